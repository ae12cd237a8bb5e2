"""mara.bench against a real HTTP server: a tiny Starlette app run by uvicorn on loopback."""

from __future__ import annotations

import asyncio
import io
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import uvicorn
from eventually import eventually
from rich.console import Console
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from mara.bench import BenchError, BenchResult, load_requests, render, run_bench

# ids that make the "flaky" problem break the contract, and how the bench words it
BROKEN = {
    "short": "2 predictions for 3 rows",
    "wrong-id": "is not the id sent",
    "boom": "HTTP 500",
    "proba": "outside [0, 1]",
    "drift-bad": "drift must be 0 or 1",
    "not-json": "not JSON",
    "list": "not an object",
}


async def predict(request: Request) -> Response:
    body = await request.json()
    if "labels" in body:
        return JSONResponse({"error": "labels reached the server"}, status_code=422)
    prob, rid, rows = request.path_params["prob"], body["id"], body["rows"]
    answer: dict[str, Any] = {"id": rid, "predictions": [0.5] * len(rows), "drift": 0}
    if prob == "echo":
        # the first column carries the answer, so scores are known exactly
        answer["predictions"] = [row[0] for row in rows]
    elif prob == "slow":
        await asyncio.sleep(0.5)
    elif prob == "flaky":
        if rid == "short":
            answer["predictions"].pop()
        elif rid == "wrong-id":
            answer["id"] = rid + "-x"
        elif rid == "boom":
            return PlainTextResponse("Internal Server Error", status_code=500)
        elif rid == "proba":
            answer["predictions"][0] = 1.5
        elif rid == "drift":
            answer["drift"] = 1
        elif rid == "drift-bad":
            answer["drift"] = 2
        elif rid == "not-json":
            return PlainTextResponse("oops")
        elif rid == "list":
            return JSONResponse([answer])
    return JSONResponse(answer)


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    app = Starlette(routes=[Route("/{phase}/{prob}/predict", predict, methods=["POST"])])
    # bind first, then hand the socket over: the port is known and no other process can take it
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    eventually(lambda: server.started, "the test server to start", timeout_s=10, every_s=0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=5)
    sock.close()


def write_requests(path: Path, bodies: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(b) + b"\n" for b in bodies))
    return path


def body(rid: str, n_rows: int = 3, labels: list[Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": rid,
        "columns": ["a", "b"],
        "rows": [[i, "x"] for i in range(n_rows)],
    }
    if labels is not None:
        out["labels"] = labels
    return out


def bench(url: str, prob: str, requests: list[Any], **kwargs: Any) -> BenchResult:
    return run_bench(url, "phase-1", prob, requests, progress=False, **kwargs)


def test_load_requests_strips_labels_and_keeps_them_apart(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    write_requests(path, [body("a", 2, labels=[0, 1]), body("b", 1)])
    path.write_bytes(path.read_bytes() + b"\n   \n")  # trailing blank lines are skipped

    first, second = load_requests(path)

    assert (first.id, first.n_rows, first.labels) == ("a", 2, (0, 1))
    assert orjson.loads(first.body) == body("a", 2)
    assert "labels" not in orjson.loads(first.body)
    assert (second.labels, second.n_rows) == (None, 1)
    assert len(load_requests(path, limit=1)) == 1


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"{not json", "not JSON"),
        (b'{"rows": []}', "'id'"),
        (b'{"id": "a", "rows": [[1]], "labels": [0, 1]}', "one label per row"),
    ],
)
def test_load_requests_names_the_bad_line(tmp_path: Path, line: bytes, message: str) -> None:
    path = tmp_path / "r.jsonl"
    path.write_bytes(orjson.dumps(body("ok")) + b"\n" + line + b"\n")
    with pytest.raises(BenchError, match=message) as info:
        load_requests(path)
    assert "r.jsonl:2" in str(info.value)


def test_load_requests_missing_file(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="cannot read"):
        load_requests(tmp_path / "nope.jsonl")


def test_clean_run_counts_and_measures(server_url: str, tmp_path: Path) -> None:
    requests = load_requests(
        write_requests(tmp_path / "r.jsonl", [body(f"r{i}") for i in range(8)])
    )

    result = bench(server_url, "half", requests, repeat=2)

    assert (result.requests, result.rows, result.errors) == (16, 48, 0)
    assert result.error_samples == ()
    assert result.latencies_ms.shape == (16,)
    assert 0 < result.p50_ms <= result.p95_ms <= result.p99_ms
    assert result.requests_per_s > 0 and result.rows_per_s == pytest.approx(
        3 * result.requests_per_s
    )
    assert (result.score, result.metric, result.drift_flags) == (None, None, 0)
    json.dumps(result.as_dict())  # the CLI prints it as JSON


def test_labels_never_reach_the_server(server_url: str, tmp_path: Path) -> None:
    path = write_requests(tmp_path / "r.jsonl", [body("a", 2, labels=[0, 1])])
    # the fake server answers 422 if it sees "labels"
    assert bench(server_url, "half", load_requests(path)).errors == 0


@pytest.mark.parametrize("rid", sorted(BROKEN))
def test_each_contract_violation_is_an_error(server_url: str, tmp_path: Path, rid: str) -> None:
    requests = load_requests(write_requests(tmp_path / "r.jsonl", [body(rid)]))

    result = bench(server_url, "flaky", requests)

    assert result.errors == 1
    assert result.p50_ms is None and result.requests_per_s == 0
    (sample,) = result.error_samples
    assert BROKEN[rid] in sample and repr(rid) in sample


@pytest.mark.parametrize("concurrency", [1, 4])
def test_mixed_run_counts_errors_and_drift(
    server_url: str, tmp_path: Path, concurrency: int
) -> None:
    ids = ["ok-1", *BROKEN, "drift", "ok-2"]
    requests = load_requests(write_requests(tmp_path / "r.jsonl", [body(i) for i in ids]))

    result = bench(server_url, "flaky", requests, concurrency=concurrency, repeat=3)

    assert result.requests == 3 * len(ids)
    assert result.errors == 3 * len(BROKEN)
    assert result.drift_flags == 3  # drift=1 is a valid answer, counted apart
    assert len(result.latencies_ms) == 3 * 3
    # the first distinct messages, at most five
    assert len(result.error_samples) == 5 and len(set(result.error_samples)) == 5


def test_auc_when_labels_are_binary(server_url: str, tmp_path: Path) -> None:
    labels = [0, 1, 1, 0, 1, 0]
    perfect = {"id": "p", "columns": ["score"], "rows": [[0.9 if y else 0.2] for y in labels]}
    inverted = {"id": "i", "columns": ["score"], "rows": [[0.1 if y else 0.8] for y in labels]}
    path = tmp_path / "r.jsonl"

    write_requests(path, [{**perfect, "labels": labels}])
    perfect_result = bench(server_url, "echo", load_requests(path))
    write_requests(path, [{**inverted, "labels": labels}])
    inverted_result = bench(server_url, "echo", load_requests(path))
    write_requests(path, [{**perfect, "labels": labels}])
    coin_result = bench(server_url, "half", load_requests(path))

    assert (perfect_result.metric, perfect_result.score) == ("auc", 1.0)
    assert inverted_result.score == 0.0
    assert coin_result.score == 0.5


def test_accuracy_when_predictions_are_labels(server_url: str, tmp_path: Path) -> None:
    truth = ["cat", "dog", "bird", "cat"]
    right = {"id": "r", "columns": ["animal"], "rows": [[y] for y in truth], "labels": truth}
    half = {**right, "id": "h", "rows": [["cat"], ["cat"], ["bird"], ["dog"]]}
    path = write_requests(tmp_path / "r.jsonl", [right])

    assert bench(server_url, "echo", load_requests(path)).score == 1.0
    result = bench(server_url, "echo", load_requests(write_requests(path, [right, half])))

    assert (result.metric, result.score) == ("accuracy", 6 / 8)


def test_score_ignores_requests_answered_wrongly(server_url: str, tmp_path: Path) -> None:
    bodies = [body("ok", 3, labels=["a", "b", "c"]), body("short", 3, labels=["x", "y", "z"])]
    path = write_requests(tmp_path / "r.jsonl", bodies)

    result = bench(server_url, "flaky", load_requests(path))

    # "ok" answers 0.5 for every row: no row right, but only its three rows are scored
    assert (result.errors, result.metric, result.score) == (1, "accuracy", 0.0)


def test_timeouts_and_refused_connections_are_errors(server_url: str, tmp_path: Path) -> None:
    requests = load_requests(write_requests(tmp_path / "r.jsonl", [body("a"), body("b")]))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"

    slow = bench(server_url, "slow", requests, timeout_s=0.1, concurrency=2)
    refused = bench(closed, "half", requests)

    assert slow.errors == 2 and "Timeout" in slow.error_samples[0]
    assert refused.errors == 2 and "ConnectError" in refused.error_samples[0]


@pytest.mark.parametrize("url", ["127.0.0.1:8000", "ftp://host", "http://"])
def test_bad_url_is_refused_up_front(url: str) -> None:
    with pytest.raises(BenchError, match="bad URL"):
        run_bench(url, "p", "q", [], progress=False)


def test_render_shows_the_numbers(server_url: str, tmp_path: Path) -> None:
    requests = load_requests(write_requests(tmp_path / "r.jsonl", [body("ok-1"), body("boom")]))
    result = bench(server_url, "flaky", requests)
    out = io.StringIO()

    Console(file=out, width=120).print(render(result))

    text = out.getvalue()
    assert "p50 / p95 / p99" in text and "(1 ok)" in text and "HTTP 500" in text
