"""`mara serve` starts one worker per usable core unless told otherwise."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from serving import children

from mara.serve.process import ServerProcess
from mara.serve.server import usable_cores


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
