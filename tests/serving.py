"""Real servers for tests: on either engine, and on a copy of the trained home when needed."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from mara.serve.process import ServerProcess
from mara.serve.ray_cluster import LOOPBACK_ENV

# Suites that take a `server` run against both engines: uvicorn workers, and replicas on the
# session's local Ray cluster (slow to start: end to end).
ENGINES = ["uvicorn", pytest.param("ray", marks=pytest.mark.e2e)]


def engine_server(
    request: pytest.FixtureRequest,
    home: Path,
    *,
    extra_args: tuple[str, ...] = (),
    log_path: Path | None = None,
) -> ServerProcess:
    """`mara serve` on the engine `request.param` names; not started yet."""
    if request.param == "ray":
        cluster = request.getfixturevalue("ray_cluster")
        ray_args = ("--engine", "ray", "--ray-address", cluster.address)
        return ServerProcess(
            home,
            port=cluster.serve_port,
            extra_args=(*extra_args, *ray_args),
            env=LOOPBACK_ENV,
            log_path=log_path,
        )
    return ServerProcess(home, extra_args=extra_args, log_path=log_path)


def server_log(server: ServerProcess) -> str:
    """What the server logged: its process, and its Ray replicas' logs when it ran on Ray."""
    replica_logs = sorted((server.home / "logs" / "ray").glob("replica_*.log"))
    return "".join(path.read_text() for path in [server.log_path, *replica_logs])


@contextlib.contextmanager
def isolated_server(
    trained_home: Path,
    factory: pytest.TempPathFactory,
    name: str,
    *,
    max_rows: int,
    request: pytest.FixtureRequest | None = None,
) -> Iterator[ServerProcess]:
    """`mara serve --max-rows N` on a copy of `trained_home` without its captures or logs.

    With a `request` parametrized by ENGINES, on that engine; else on uvicorn.
    """
    home = factory.mktemp(name)
    shutil.copytree(
        trained_home,
        home,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("captured_data", "logs"),
    )
    extra = ("--max-rows", str(max_rows))
    if request is None:
        server = ServerProcess(home, extra_args=extra, log_path=home / "serve.log")
    else:
        server = engine_server(request, home, extra_args=extra, log_path=home / "serve.log")
    with server as running:
        yield running


def children(pid: int) -> list[int]:
    """Worker processes of a supervisor (not multiprocessing's resource tracker), from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if int(stat[1]) == pid and stat[0] != "Z" and b"spawn_main" in command:
                found.append(int(entry.name))
    return sorted(found)
