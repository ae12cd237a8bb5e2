"""A real server on a copy of the trained home, for tests whose captures others must not read."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from mara.serve.process import ServerProcess


@contextlib.contextmanager
def isolated_server(
    trained_home: Path, factory: pytest.TempPathFactory, name: str, *, max_rows: int
) -> Iterator[ServerProcess]:
    """`mara serve --max-rows N` on a copy of `trained_home` without its captures or logs."""
    home = factory.mktemp(name)
    shutil.copytree(
        trained_home,
        home,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("captured_data", "logs"),
    )
    extra = ("--max-rows", str(max_rows))
    with ServerProcess(home, extra_args=extra, log_path=home / "serve.log") as running:
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
