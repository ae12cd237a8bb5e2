"""Full speed from the first request: `/health` is 503 until every version is made fast."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from eventually import eventually
from problems import binary_frame

from mara.compiled import COMPILE_LOG, compiled_cache, object_file
from mara.registry import Registry
from mara.serve.process import ServerProcess

PROBLEMS = ("phase-1/prob-1", "phase-1/prob-2")


@pytest.fixture
def uncompiled_home(lightgbm_home: Path, tmp_path: Path) -> Path:
    """A copy of a home of LightGBM champions whose forests were never compiled."""
    home = tmp_path / "home"
    shutil.copytree(lightgbm_home, home, ignore=shutil.ignore_patterns("captured_data", "logs"))
    shutil.rmtree(compiled_cache(home), ignore_errors=True)
    return home


@contextlib.contextmanager
def compiles_held(home: Path) -> Iterator[None]:
    """Hold every served forest's compile lock, as a process compiling them all would."""
    registry, cache = Registry(home), compiled_cache(home)
    cache.mkdir(parents=True, exist_ok=True)
    descriptors = []
    for mv in registry.served_models():
        lock = object_file(registry.load(mv.name).forest.booster, cache).with_suffix(".lock")
        descriptors.append(os.open(lock, os.O_RDWR | os.O_CREAT))
        fcntl.flock(descriptors[-1], fcntl.LOCK_EX)
    try:
        yield
    finally:
        for fd in descriptors:
            os.close(fd)


def start_in_background(server: ServerProcess) -> threading.Thread:
    thread = threading.Thread(target=server.start, daemon=True)
    thread.start()
    return thread


def wait_for_health(url: str, *, timeout_s: float = 120) -> httpx.Response:
    """The first answer of /health, 503 included (a server still starting refuses)."""

    def answer() -> httpx.Response | None:
        with contextlib.suppress(httpx.TransportError):
            return httpx.get(f"{url}/health", timeout=5)
        return None

    return eventually(answer, f"{url}/health to answer", timeout_s=timeout_s)


def test_health_is_503_until_every_worker_is_at_full_speed(uncompiled_home: Path):
    server = ServerProcess(uncompiled_home, workers=2, extra_args=("--no-capture",))
    try:
        with compiles_held(uncompiled_home):
            starting = start_in_background(server)
            waiting = wait_for_health(server.url)
            # The compiles wait on the held locks: not ready, and it says per problem why.
            assert waiting.status_code == 503
            body = waiting.json()
            assert body["status"] == "starting"
            assert set(body["models"]) == set(PROBLEMS)
            for model in body["models"].values():
                assert model["full_speed"] is False
                assert model["state"] == "making fast"
                assert model["learner"] == "lightgbm"
            # Traffic sent before readiness is answered anyway, and says it was not fast.
            columns = ["amount", "age", "noise", "channel", "region"]
            rows = binary_frame(20, seed=4)[columns].values.tolist()
            early = httpx.post(
                f"{server.url}/phase-1/prob-1/predict",
                json={"id": "early", "columns": columns, "rows": rows},
            )
            assert early.status_code == 200
            assert early.headers["x-mara-full-speed"] == "0"
        starting.join(timeout=300)
        assert server.process is not None and server.process.poll() is None
        workers = set()
        for _ in range(20):
            ready = httpx.get(f"{server.url}/health", timeout=5)
            assert ready.status_code == 200
            workers.add(ready.json()["worker"])
            assert all(m["full_speed"] for m in ready.json()["models"].values())
    finally:
        server.stop()
    # Two workers, two forests: each forest compiled once (the other worker loaded it).
    lines = (compiled_cache(uncompiled_home) / COMPILE_LOG).read_text().splitlines()
    assert len(lines) == len(PROBLEMS)
    assert len({line.split()[2] for line in lines}) == len(PROBLEMS)


def test_a_compile_that_never_ends_is_given_up_and_reported(uncompiled_home: Path):
    server = ServerProcess(
        uncompiled_home,
        workers=1,
        extra_args=("--no-capture",),
        env={"MARA_FAST_TIMEOUT": "2"},
    )
    try:
        with compiles_held(uncompiled_home):
            server.start()  # ready although nothing could compile: the wait is bounded
            body = httpx.get(f"{server.url}/health").json()
            assert body["status"] == "ok"
            for model in body["models"].values():
                assert model["full_speed"] is False
                assert model["state"] == "interpreter: not fast after 2 s"
        # Once the compile can run, it attaches the served form after all.
        models = eventually(
            lambda: (
                (m := httpx.get(f"{server.url}/health").json()["models"])
                and all(v["full_speed"] for v in m.values())
                and m
            ),
            "every forest at full speed",
            timeout_s=120,
            every_s=0.5,
        )
        assert all(m["state"] == "full speed" for m in models.values()), models
    finally:
        server.stop()
