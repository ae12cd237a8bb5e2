"""`mara serve --engine ray`: replicas on a local Ray cluster, what only Ray adds.

The contract and dirty-request suites run against the Ray engine too (their `server`
fixtures are parametrized by serving.ENGINES); these tests cover several replicas, the
champion alias followed by every replica, the per-replica capture, and the options.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import orjson
import pytest
from eventually import eventually
from problems import binary_frame
from traffic import Load

from mara.serve.process import ServerProcess
from mara.serve.ray_cluster import LOOPBACK_ENV
from mara.serve.ray_engine import RayOptions, deployment_options, replica_env

COLUMNS = ["amount", "age", "noise", "channel", "region"]


def mara_serve(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mara", "--home", str(home), "serve", "--engine", "ray", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def descendants(pid: int) -> list[int]:
    """Every process below `pid`, from /proc (Linux)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        below = children.get(todo.pop(), [])
        found += below
        todo += below
    return found


def command_name(pid: int) -> str:
    """The process's name, or "" once it has ended (gone, or a zombie nobody reaped yet)."""
    try:
        name, rest = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)
    except OSError:
        return ""
    return "" if rest.split()[0] == "Z" else name.split("(", 1)[1]


def test_a_replica_count_or_autoscaling_bounds():
    fixed = deployment_options(RayOptions(home=Path("/srv/h"), replicas=3), {"MARA_HOME": "/srv/h"})
    assert fixed["num_replicas"] == 3
    assert "autoscaling_config" not in fixed
    assert fixed["ray_actor_options"]["runtime_env"]["env_vars"] == {"MARA_HOME": "/srv/h"}
    assert fixed["logging_config"]["logs_dir"] == "/srv/h/logs/ray"
    scaled = deployment_options(
        RayOptions(home=Path("/srv/h"), replicas=1, max_replicas=4, max_in_flight=6), {}
    )
    assert "num_replicas" not in scaled
    assert scaled["autoscaling_config"]["min_replicas"] == 1
    assert scaled["autoscaling_config"]["max_replicas"] == 4
    assert scaled["max_ongoing_requests"] == 6


def test_replicas_get_mara_and_mlflow_settings_and_nothing_else(tmp_path: Path):
    environ = {
        "MARA_HOME": "/h",
        "MLFLOW_TRACKING_URI": "http://m:5000",
        "HOME": "/root",
        "AWS_SECRET_ACCESS_KEY": "x",
        "RAY_SERVE_RUN_USER_CODE_IN_SEPARATE_THREAD": "0",
        "RAY_ADDRESS": "head:6379",
    }
    env = replica_env(environ, metrics_dir=tmp_path)
    assert env == {
        "MARA_HOME": "/h",
        "MLFLOW_TRACKING_URI": "http://m:5000",
        "RAY_SERVE_RUN_USER_CODE_IN_SEPARATE_THREAD": "0",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--workers", "2"), "--workers is for --engine uvicorn"),
        (("--replicas", "3", "--max-replicas", "2"), "--max-replicas 2 is below --replicas 3"),
        (("--replicas", "0"), "--replicas"),
    ],
)
def test_options_that_cannot_work_are_refused_before_ray_starts(tmp_path: Path, args, message):
    done = mara_serve(tmp_path, *args)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_an_address_nothing_listens_on_is_one_line_at_once(tmp_path: Path):
    from mara.serve.process import free_port

    done = mara_serve(tmp_path, "--ray-address", f"127.0.0.1:{free_port()}")
    assert done.returncode == 1
    assert "mara: cannot reach the Ray cluster at 127.0.0.1:" in done.stderr
    assert "Traceback" not in done.stderr
    malformed = mara_serve(tmp_path, "--ray-address", "head-node")
    assert malformed.returncode == 1
    assert "a Ray address is host:port, not 'head-node'" in malformed.stderr


@pytest.mark.e2e
def test_without_an_address_ray_starts_and_stops_with_the_command(
    trained_home: Path, tmp_path: Path
):
    home = tmp_path / "home"
    shutil.copytree(trained_home, home, ignore=shutil.ignore_patterns("captured_data", "logs"))
    # Ray's files go to a short directory of the test's own (its socket paths must stay short).
    ray_tmp = Path(tempfile.mkdtemp(prefix="ray-"))
    server = ServerProcess(
        home,
        extra_args=("--engine", "ray", "--follow", "0"),
        env=LOOPBACK_ENV | {"RAY_TMPDIR": str(ray_tmp)},
        log_path=tmp_path / "serve.log",
    )
    with server as running:
        assert running.process is not None
        ray_processes = descendants(running.process.pid)
        assert "raylet" in {command_name(pid) for pid in ray_processes}
        body = {"id": "solo", "columns": ["amount"], "rows": [[3.0]]}
        answer = httpx.post(f"{running.url}/phase-1/prob-1/predict", json=body, timeout=60)
        assert answer.status_code == 200
        assert answer.json()["id"] == "solo"
        code = running.stop(timeout_s=120)
    assert code == 0
    # The Ray it started goes with it.
    eventually(
        lambda: not [pid for pid in ray_processes if command_name(pid)],
        "the Ray processes it started to end",
        timeout_s=30,
        every_s=0.5,
    )
    assert any(ray_tmp.iterdir())  # Ray ran there, not in the shared /tmp/ray
    shutil.rmtree(ray_tmp)


@pytest.mark.e2e
def test_replicas_follow_the_champion_and_capture_their_own_traffic(
    trained_home: Path, ray_cluster, tmp_path: Path
):
    from mara.registry import Registry
    from mara.train import train_problem

    home = tmp_path / "home"
    shutil.copytree(trained_home, home, ignore=shutil.ignore_patterns("captured_data", "logs"))
    name = "phase-1_prob-1"
    train_problem(home, "phase-1", "prob-1")  # v2, to be promoted while the replicas serve
    registry = Registry(home)
    registry.promote(name, "1", by="test", reason="serve v1 first")
    server = ServerProcess(
        home,
        port=ray_cluster.serve_port,
        extra_args=(
            "--engine",
            "ray",
            "--ray-address",
            ray_cluster.address,
            "--replicas",
            "2",
            "--follow",
            "0.5",
        ),
        env=LOOPBACK_ENV,
        log_path=tmp_path / "serve.log",
    )
    frame = binary_frame(200, seed=3)
    rows = frame[COLUMNS].values.tolist()

    def send(client: httpx.Client, batch_id: str) -> httpx.Response:
        body = orjson.dumps({"id": batch_id, "columns": COLUMNS, "rows": rows})
        return client.post("/phase-1/prob-1/predict", content=body)

    with server as running, httpx.Client(base_url=running.url, timeout=60) as client:
        ids = [f"r-{i}" for i in range(40)]
        with ThreadPoolExecutor(4) as pool:  # 4 clients at once: both replicas get work
            answers = list(pool.map(lambda batch_id: send(client, batch_id), ids))
        assert [a.status_code for a in answers] == [200] * len(ids)
        assert [a.json()["id"] for a in answers] == ids
        metrics = client.get("/metrics").text
        key = 'mara_requests_total{code="200",phase="phase-1",problem="phase-1/prob-1"}'
        # One exposition sums the replicas of the node (each answers /metrics in turn).
        assert f"{key} 40.0" in metrics

        registry.promote(name, "2", by="test", reason="a new champion while serving")
        logs = home / "logs" / "ray"

        def both_swapped() -> bool:
            # Requests are answered all along while each replica loads v2 beside v1.
            late = f"late-{len(ids)}"
            assert send(client, late).status_code == 200
            ids.append(late)
            swapped = {
                path
                for path in logs.glob("replica_*.log")
                if f"champion is now {name} v2" in path.read_text()
            }
            return len(swapped) == 2

        eventually(
            both_swapped,
            "both replicas to swap in v2",
            timeout_s=180,
            every_s=0.5,
            detail=lambda: "\n".join(path.read_text()[-2000:] for path in logs.glob("*.log")),
        )
        # Both replicas have swapped (each logs it after the swap): whichever answers now
        # answers with v2.
        after = [f"after-{i}" for i in range(6)]
        assert [send(client, batch_id).status_code for batch_id in after] == [200] * 6
        ids += after
        code = running.stop()
    assert code == 0

    folder = home / "data" / "captured_data" / "phase-1" / "prob-1"
    files = sorted(folder.glob("*.jsonl"))
    writers = [path.name.split("-")[2] for path in files]  # requests-<stamp>-<pid>-<ns>
    assert len(set(writers)) == len(writers)  # one writer per file
    captured = [
        json.loads(line)["id"] for path in files for line in path.read_bytes().split(b"\n") if line
    ]
    assert sorted(captured) == sorted(ids)  # every answered batch, once
    version_of = {
        json.loads(line)["id"]: json.loads(line)["model_version"]
        for path in files
        for line in path.read_bytes().split(b"\n")
        if line
    }
    assert set(version_of.values()) == {"1", "2"}
    assert {version_of[batch_id] for batch_id in after} == {"2"}
    assert len(list(logs.glob("replica_*.log"))) == 2  # one log per replica, in the home


@pytest.mark.e2e
def test_a_promotion_reaches_every_replica_by_the_alias_stamp(
    trained_home: Path, ray_cluster, tmp_path: Path
):
    from mara.registry import Registry

    home = tmp_path / "home"
    shutil.copytree(trained_home, home, ignore=shutil.ignore_patterns("captured_data", "logs"))
    name = "phase-1_prob-1"
    registry = Registry(home)
    with registry.run("test", "the same forest again"):
        v2 = registry.log_bundle(registry.load(name)).version
    server = ServerProcess(
        home,
        port=ray_cluster.serve_port,
        # The fallback check of MLflow every 120 s, far past every wait below: a swap seen
        # in time came from the alias stamp each replica looks at.
        extra_args=(
            *("--engine", "ray", "--ray-address", ray_cluster.address),
            *("--replicas", "2", "--follow", "120"),
        ),
        env=LOOPBACK_ENV,
        log_path=tmp_path / "serve.log",
    )
    with server, Load(server.url, clients=4) as load:
        replicas = eventually(
            lambda: seen if len(seen := {a.worker for a in load.answers}) >= 2 else None,
            "both replicas to take the load",
            timeout_s=120,
        )
        moved = time.monotonic()
        registry.promote(name, v2, by="test", reason="a promotion under load")
        first = load.first_answer(v2, replicas, moved, timeout_s=60)
        load.answered_again(first, timeout_s=60)
    answers = load.answers
    assert {a.status for a in answers} == {200}
    assert {a.version for a in answers} == {"1", v2}
    for replica in replicas:
        # Once a replica answered the new version, it never answered the old one again.
        mine = [a for a in answers if a.worker == replica]
        assert {a.version for a in mine if a.sent > first[replica]} == {v2}, replica
