"""The real server, as a subprocess on a loopback port, answering real HTTP requests."""

from __future__ import annotations

import json
import random
from pathlib import Path

import httpx
import orjson
import pytest
from eventually import eventually
from problems import binary_frame, multiclass_frame, write_problem
from serving import ENGINES, engine_server

from mara.capture import parse_line
from mara.serve.process import ServerProcess


@pytest.fixture(scope="module", params=ENGINES)
def server(request: pytest.FixtureRequest, trained_home: Path):
    with engine_server(request, trained_home) as running:
        yield running


def post(server: ServerProcess, path: str, body: object) -> httpx.Response:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    return httpx.post(f"{server.url}{path}", content=content, timeout=30)


def request_body(frame, columns, batch_id="b-1") -> dict:
    return {"id": batch_id, "columns": columns, "rows": frame[columns].values.tolist()}


def test_health_lists_the_champions(server):
    body = httpx.get(f"{server.url}/health").json()
    assert body["status"] == "ok"
    assert set(body["models"]) == {"phase-1/prob-1", "phase-1/prob-2"}


def test_binary_contract(server):
    frame = binary_frame(500, seed=42)
    columns = ["amount", "age", "noise", "channel", "region"]
    response = post(server, "/phase-1/prob-1/predict", request_body(frame, columns, "abc"))
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"id", "predictions", "drift"}
    assert body["id"] == "abc"
    assert body["drift"] in (0, 1)
    predictions = body["predictions"]
    assert len(predictions) == 500
    assert all(isinstance(p, float) and 0.0 <= p <= 1.0 for p in predictions)
    # The model learned something: positives get higher scores on average.
    labels = frame.label.tolist()
    mean_pos = sum(p for p, y in zip(predictions, labels, strict=True) if y) / sum(labels)
    mean_neg = sum(p for p, y in zip(predictions, labels, strict=True) if not y) / (
        len(labels) - sum(labels)
    )
    assert mean_pos > mean_neg + 0.1


def test_shuffled_missing_and_extra_columns(server):
    frame = binary_frame(50, seed=7)
    columns = ["amount", "age", "noise", "channel", "region"]
    expected = post(server, "/phase-1/prob-1/predict", request_body(frame, columns)).json()
    shuffled = columns[:]
    random.Random(0).shuffle(shuffled)
    frame = frame.assign(extra=1)
    answer = post(
        server, "/phase-1/prob-1/predict", request_body(frame, [*shuffled, "extra"])
    ).json()
    assert answer["predictions"] == pytest.approx(expected["predictions"])
    partial = post(server, "/phase-1/prob-1/predict", request_body(frame, ["amount", "channel"]))
    assert partial.status_code == 200
    assert len(partial.json()["predictions"]) == 50


def test_multiclass_returns_training_labels(server):
    frame = multiclass_frame(300, seed=9)
    response = post(
        server, "/phase-1/prob-2/predict", request_body(frame, ["proto", "y", "x"], batch_id=17)
    )
    body = response.json()
    assert response.status_code == 200
    assert body["id"] == 17
    assert set(body["predictions"]) <= {"attack", "normal", "probe"}
    hits = sum(p == t for p, t in zip(body["predictions"], frame.kind, strict=True))
    assert hits / len(frame) > 0.6


def test_unknown_problem_is_404(server):
    response = post(server, "/phase-9/prob-1/predict", {"id": "x", "columns": [], "rows": []})
    assert response.status_code == 404
    assert response.json()["error"] == "ModelNotFound"


def test_structural_faults_are_4xx_and_the_server_keeps_serving(server):
    cases = [
        (b"not json", 400),
        (b"[1, 2]", 422),
        (json.dumps({"columns": ["amount"], "rows": [[1]]}).encode(), 422),
        (json.dumps({"id": "x", "columns": "amount", "rows": [[1]]}).encode(), 422),
        (json.dumps({"id": "x", "columns": ["amount"], "rows": [[1, 2]]}).encode(), 422),
        (json.dumps({"id": "x", "columns": ["amount", "amount"], "rows": [[1, 2]]}).encode(), 422),
        (json.dumps({"id": "x", "columns": ["nothing"], "rows": [[1]]}).encode(), 422),
        (json.dumps({"id": "x", "columns": ["amount"], "rows": "1"}).encode(), 422),
        (json.dumps({"id": None, "columns": ["amount"], "rows": [[1]]}).encode(), 422),
    ]
    for body, status in cases:
        response = post(server, "/phase-1/prob-1/predict", body)
        assert response.status_code == status, body
        assert response.json()["detail"]
    ok = post(server, "/phase-1/prob-1/predict", {"id": "y", "columns": ["amount"], "rows": [[3]]})
    assert ok.status_code == 200


def test_empty_batch_gets_empty_predictions(server):
    body = post(
        server, "/phase-1/prob-1/predict", {"id": "e", "columns": ["amount"], "rows": []}
    ).json()
    assert body == {"id": "e", "predictions": [], "drift": 0}


def test_metrics_count_requests(server):
    post(server, "/phase-1/prob-1/predict", {"id": "m", "columns": ["amount"], "rows": [[1]]})
    text = httpx.get(f"{server.url}/metrics").text
    assert 'mara_requests_total{code="200",phase="phase-1",problem="phase-1/prob-1"}' in text
    assert "mara_predict_seconds_bucket" in text


def test_capture_keeps_every_batch_after_clean_shutdown(trained_home: Path, tmp_path: Path):
    with ServerProcess(trained_home, log_path=tmp_path / "serve.log") as running:
        ids = [f"cap-{i}" for i in range(20)]
        frame = binary_frame(30, seed=1)
        for batch_id in ids:
            columns = ["amount", "age", "channel"]
            assert (
                post(
                    running, "/phase-1/prob-1/predict", request_body(frame, columns, batch_id)
                ).status_code
                == 200
            )
        code = running.stop()
    assert code == 0  # drained, not killed by the signal
    assert "Application shutdown complete" in (tmp_path / "serve.log").read_text()
    folder = trained_home / "data" / "captured_data" / "phase-1" / "prob-1"
    # Split on b"\n" only: captured text may hold U+2028 and the like, which splitlines() splits.
    records = [
        parse_line(line)
        for path in folder.glob("*.jsonl")
        for line in path.read_bytes().split(b"\n")
        if line
    ]
    captured = {r["id"]: r for r in records}
    assert set(ids) <= set(captured)
    record = captured["cap-3"]
    assert record["columns"] == ["amount", "age", "channel"]
    assert len(record["rows"]) == len(record["predictions"]) == 30
    assert record["quality"]["columns_absent"] == 2
    report = record["drift_report"]
    assert report["drift"] == record["drift"]
    assert set(report["feature_scores"]) == {"amount", "age", "noise", "channel", "region"}


def test_ready_means_full_speed_and_the_answer_says_so(server):
    # Training compiled the forests; the server reported ready only once they were attached.
    body = httpx.get(f"{server.url}/health").json()
    assert body["status"] == "ok"
    assert all(m["full_speed"] and m["state"] == "full speed" for m in body["models"].values())
    frame = binary_frame(200, seed=11)
    columns = ["amount", "age", "noise", "channel", "region"]
    answer = post(server, "/phase-1/prob-1/predict", request_body(frame, columns))
    assert answer.headers["x-mara-full-speed"] == "1"
    assert answer.headers["x-mara-version"] == body["models"]["phase-1/prob-1"]["version"]


def test_drift_flag_reaches_the_response(server):
    columns = ["amount", "age", "noise", "channel", "region"]
    like_training = binary_frame(1000, seed=21)
    calm = post(server, "/phase-1/prob-1/predict", request_body(like_training, columns)).json()
    assert calm["drift"] == 0
    shifted = like_training.assign(age=like_training.age + 12.0)  # one standard deviation
    moved = post(server, "/phase-1/prob-1/predict", request_body(shifted, columns)).json()
    assert moved["drift"] == 1
    assert len(moved["predictions"]) == 1000
    tiny = post(server, "/phase-1/prob-1/predict", request_body(shifted.head(5), columns)).json()
    assert tiny["drift"] == 0  # below the smallest batch a decision means anything for


def test_two_workers_answer_and_share_metrics(trained_home: Path, tmp_path: Path):
    frame = binary_frame(100, seed=5)
    columns = ["amount", "age", "noise", "channel", "region"]
    server = ServerProcess(
        trained_home, workers=2, extra_args=("--no-capture",), log_path=tmp_path / "serve.log"
    )
    with server as running, httpx.Client(base_url=running.url, timeout=30) as client:
        for i in range(12):
            body = orjson.dumps(request_body(frame, columns, f"w-{i}"))
            response = client.post("/phase-1/prob-1/predict", content=body)
            assert response.status_code == 200
            assert response.json()["id"] == f"w-{i}"
        text = client.get("/metrics").text
    # Counters from both worker processes are summed in one exposition.
    key = 'mara_requests_total{code="200",phase="phase-1",problem="phase-1/prob-1"}'
    line = next(row for row in text.splitlines() if row.startswith(key))
    assert float(line.split()[-1]) == 12.0


def test_a_new_champion_is_served_without_a_restart(tmp_path: Path):
    from mara.train import TrainConfig, train_problem

    # A budget no search here reaches: every candidate runs, so both runs fit the same model
    # whatever else the machine is doing.
    unhurried = TrainConfig(budget=600, learners=("lightgbm",))
    columns = ["amount", "age", "noise", "channel", "region"]
    write_problem(tmp_path, "p", "q", binary_frame(3000, 2), columns[:3], columns[3:])
    train_problem(tmp_path, "p", "q", config=unhurried)
    frame = binary_frame(50, seed=8)
    with ServerProcess(tmp_path, extra_args=("--follow", "0.5")) as running:
        assert httpx.get(f"{running.url}/health").json()["models"]["p/q"]["version"] == "1"
        assert train_problem(tmp_path, "p", "q", config=unhurried).promoted  # ties promote: v2

        def served_version() -> str | None:
            # Requests keep being answered while the new version loads beside the old one.
            answer = post(running, "/p/q/predict", request_body(frame, columns))
            assert answer.status_code == 200
            version = httpx.get(f"{running.url}/health").json()["models"]["p/q"]["version"]
            return version if version != "1" else None

        assert eventually(served_version, "the swap to v2", timeout_s=120, every_s=0) == "2"
        # The served-version gauge follows the swap.
        metrics = httpx.get(f"{running.url}/metrics").text
        assert 'mara_model_version{phase="p",problem="p/q"} 2.0' in metrics


def test_a_champion_that_cannot_load_leaves_the_others_serving(tmp_path: Path):
    from mara.train import train_problem

    write_problem(tmp_path, "p", "good", binary_frame(1000, 1), ["amount", "age"], ["channel"])
    write_problem(
        tmp_path, "p", "bad", multiclass_frame(1000, 1), ["x", "y"], ["proto"], target="kind"
    )
    train_problem(tmp_path, "p", "good")
    train_problem(tmp_path, "p", "bad")
    broken = list((tmp_path / "mlartifacts" / "p_bad").rglob("bundle.pkl"))
    assert broken
    for path in broken:
        path.unlink()
    with ServerProcess(tmp_path) as running:
        health = httpx.get(f"{running.url}/health").json()
        assert set(health["models"]) == {"p/good"}
        assert set(health["unavailable"]) == {"p/bad"}
        body = {"id": "x", "columns": ["x", "y", "proto"], "rows": [[0.1, 0.2, "tcp"]]}
        refused = post(running, "/p/bad/predict", body)
        assert refused.status_code == 503
        assert refused.json()["error"] == "ModelUnavailable"
        ok = post(running, "/p/good/predict", {"id": "y", "columns": ["amount"], "rows": [[3]]})
        assert ok.status_code == 200
        metrics = httpx.get(f"{running.url}/metrics").text
        assert 'mara_model_loaded{phase="p",problem="p/bad"} 0.0' in metrics
        assert 'mara_model_loaded{phase="p",problem="p/good"} 1.0' in metrics
        assert 'mara_requests_total{code="503",phase="p",problem="p/bad"} 1.0' in metrics
