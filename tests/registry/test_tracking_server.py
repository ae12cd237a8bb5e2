"""mara against a real MLflow tracking server, as users run it: `mlflow server` on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from mara.data import make_problem
from mara.serve.process import ServerProcess, free_port, wait_until_ready

MLFLOW = Path(sys.executable).with_name("mlflow")


@pytest.fixture(scope="module")
def tracking_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("tracking")
    port = free_port()
    command = [
        str(MLFLOW),
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--backend-store-uri",
        f"sqlite:///{root}/mlflow.db",
        "--artifacts-destination",
        str(root / "artifacts"),
        "--workers",
        "1",
    ]
    with (root / "server.log").open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=root)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(
            f"{url}/health",
            process,
            name="mlflow server",
            timeout_s=180,
            log_path=root / "server.log",
        )
        yield url
    finally:
        process.terminate()
        process.wait(30)


def mara(home: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mara", "--home", str(home), *args],
        capture_output=True,
        text=True,
        env=os.environ | env,
        timeout=600,
    )


def test_train_register_and_serve_through_a_tracking_server(tracking_server: str, tmp_path: Path):
    env = {"MLFLOW_TRACKING_URI": tracking_server}
    files = make_problem(tmp_path, "credit", phase="p", prob="q", rows=3000, seed=0)
    trained = mara(tmp_path, "train", "--phase", "p", "--prob", "q", env=env)
    assert trained.returncode == 0, trained.stderr
    assert "no champion yet: promoted" in trained.stdout
    assert not (tmp_path / "mlflow.db").exists()  # nothing went to the embedded store
    runs = httpx.post(
        f"{tracking_server}/api/2.0/mlflow/runs/search", json={"experiment_ids": ["1"]}
    ).json()["runs"]
    # The training run, beside the run that records the champion alias's move.
    kinds = {
        tag["value"]: run
        for run in runs
        for tag in run["data"]["tags"]
        if tag["key"] == "mara.kind"
    }
    assert set(kinds) == {"train", "alias-move"}
    assert {m["key"] for m in kinds["train"]["data"]["metrics"]} >= {"auc", "logloss"}

    with ServerProcess(tmp_path, env=env, log_path=tmp_path / "serve.log") as server:
        models = httpx.get(f"{server.url}/health").json()["models"]
        assert models["p/q"]["version"] == "1"
        body = orjson.loads(files.requests.read_bytes().splitlines()[0])
        body.pop("labels")
        answer = httpx.post(
            f"{server.url}/p/q/predict", content=orjson.dumps(body), timeout=30
        ).json()
        assert len(answer["predictions"]) == len(body["rows"])


def test_unreachable_tracking_server_is_one_clear_line(tmp_path: Path):
    make_problem(tmp_path, "credit", phase="p", prob="q", rows=500, seed=0)
    env = {
        "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{free_port()}",
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    }
    failed = mara(tmp_path, "train", "--phase", "p", "--prob", "q", env=env)
    assert failed.returncode == 1
    assert failed.stderr.strip().splitlines()[-1].startswith("mara: MLflow failed while")
    assert "Traceback" not in failed.stderr
