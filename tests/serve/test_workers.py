"""`mara serve` starts one worker per usable core unless told otherwise; /health shows them all."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from eventually import eventually
from serving import children

from mara.home import Home
from mara.registry import Registry
from mara.serve.process import ServerProcess
from mara.serve.server import usable_cores
from mara.serve.workers import WorkerStates

NAME, PROBLEM = "phase-1_prob-1", "phase-1/prob-1"


@contextlib.contextmanager
def pinned_to(cores: set[int]) -> Iterator[None]:
    """Run the block with this process (and the children it starts) on `cores` only."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cores)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def test_usable_cores_follow_the_affinity_mask_not_the_core_count():
    assert usable_cores() == len(os.sched_getaffinity(0))
    with pinned_to({min(os.sched_getaffinity(0))}):
        assert usable_cores() == 1


def test_by_default_one_worker_per_usable_core(trained_home: Path, tmp_path: Path):
    cores = os.sched_getaffinity(0)
    if len(cores) < 2:
        pytest.skip("needs a machine with two usable cores")
    two = set(sorted(cores)[:2])
    server = ServerProcess(
        trained_home, workers=None, extra_args=("--no-capture",), log_path=tmp_path / "serve.log"
    )
    # The server inherits the mask: two workers, even on a larger machine.
    with pinned_to(two), server:
        assert len(children(server.process.pid)) == 2
        assert httpx.get(f"{server.url}/health").status_code == 200


def test_one_usable_core_serves_in_one_process(trained_home: Path, tmp_path: Path):
    server = ServerProcess(
        trained_home, workers=None, extra_args=("--no-capture",), log_path=tmp_path / "serve.log"
    )
    with pinned_to({min(os.sched_getaffinity(0))}), server:
        assert children(server.process.pid) == []  # no supervisor: the process serves itself
        assert httpx.get(f"{server.url}/health").status_code == 200


def test_workers_option_overrides_the_default(trained_home: Path, tmp_path: Path):
    server = ServerProcess(
        trained_home, workers=2, extra_args=("--no-capture",), log_path=tmp_path / "serve.log"
    )
    with pinned_to({min(os.sched_getaffinity(0))}), server:
        assert len(children(server.process.pid)) == 2


def test_health_says_which_version_every_worker_answers(trained_home: Path, tmp_path: Path):
    home = tmp_path / "home"
    shutil.copytree(trained_home, home, ignore=shutil.ignore_patterns("captured_data", "logs"))
    registry = Registry(home)
    with registry.run("test", "the same forest again"):
        v2 = registry.log_bundle(registry.load(NAME)).version
    server = ServerProcess(
        home, workers=2, extra_args=("--no-capture", "--follow", "120"), log_path=tmp_path / "s"
    )

    def workers_in_health() -> dict[str, dict]:
        answer = httpx.get(f"{server.url}/health", timeout=10)
        return answer.json()["workers"]

    def answering(version: str) -> set[str]:
        return {
            w for w, s in workers_in_health().items() if s["models"][PROBLEM]["version"] == version
        }

    with server:
        assert server.process is not None
        pids = {str(p) for p in children(server.process.pid)}
        assert len(pids) == 2
        # Whichever worker answers, it lists both, each ready and at full speed on v1.
        workers = eventually(
            lambda: w if set(w := workers_in_health()) == pids else None,
            "both workers in /health",
            detail=lambda: str(workers_in_health()),
        )
        for state in workers.values():
            assert state["status"] == "ok"
            assert state["models"][PROBLEM]["version"] == "1"
            assert state["models"][PROBLEM]["full_speed"] is True
        # A promotion: /health shows it reaching every worker (the stamp, not --follow's 120 s).
        registry.promote(NAME, v2, by="test", reason="the same forest again")
        eventually(lambda: answering(v2) == pids, f"every worker to answer v{v2}")
        # A worker killed without a word: its state goes; the supervisor's new one appears.
        killed = min(pids)
        os.kill(int(killed), signal.SIGKILL)

        def replaced() -> set[str] | None:
            now = {str(p) for p in children(server.process.pid)}
            shown = set(workers_in_health())
            return shown if len(now) == 2 and killed not in now and shown == now else None

        shown = eventually(replaced, "the killed worker replaced in /health", timeout_s=120)
        assert killed not in shown
        assert answering(v2) == shown


def test_worker_states_leave_out_dead_workers_strangers_and_other_servers(tmp_path: Path):
    states = WorkerStates(tmp_path, lambda: {"status": "ok", "models": {}})
    folder = Home(tmp_path).workers()
    folder.mkdir(parents=True)

    def state_file(server: int, pid: int) -> Path:
        path = folder / f"{server}-{pid}.json"
        path.write_bytes(orjson.dumps({"pid": pid, "status": "starting", "models": {}}))
        return path

    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)  # fmt: skip
    dead = state_file(states.server, int(finished.stdout))
    # Alive, but not this server's child: the pid of a killed worker, taken by another process.
    stranger = state_file(states.server, os.getppid())
    other_server = state_file(states.server + 1, os.getppid())
    read = states.read()
    assert read == {os.getpid(): {"pid": os.getpid(), "status": "ok", "models": {}}}
    assert not dead.exists() and not stranger.exists()  # removed by the reader
    assert other_server.exists()  # another server's: not this one's to judge
    assert states.path.exists()  # its own, written by the read
    states.close()
    assert not states.path.exists()
