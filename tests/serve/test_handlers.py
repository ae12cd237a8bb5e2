"""The predict handler's order of work: captured before the answer leaves, the rest after it.

The app is called as uvicorn calls it (one ASGI call, its lifespan run first) on a real
trained home, so the order of the messages it sends and of what it writes can be seen.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import shutil
from pathlib import Path
from typing import Any

import orjson
from captures import captured_ids
from problems import binary_frame
from prometheus_client import REGISTRY

from mara.capture import captured_dir
from mara.serve.app import create_app

COLUMNS = ["amount", "age", "noise", "channel", "region"]
ANSWERED = {"phase": "phase-1", "problem": "phase-1/prob-1", "code": "200"}


def predicted_count() -> float:
    """How many predict requests this process's metrics have counted as answered."""
    return REGISTRY.get_sample_value("mara_requests_total", ANSWERED) or 0.0


class Recorder(logging.Handler):
    """Notes each line the server logs, in order with the answer."""

    def __init__(self, events: list[tuple[str, Any]]):
        super().__init__(logging.INFO)
        self.events = events

    def emit(self, record: logging.LogRecord) -> None:
        self.events.append(("logged", record.getMessage()))


def call(
    app: Any,
    body: bytes,
    events: list[tuple[str, Any]],
    capture: Path,
    path: str = "/phase-1/prob-1/predict",
) -> None:
    """One POST through the app's lifespan and ASGI call, recording what it sends."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        await asyncio.Event().wait()  # a client that stays connected
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            events.append(
                (
                    "answered",
                    {
                        "body": orjson.loads(message["body"]),
                        "captured": captured_ids(capture),
                        "counted": predicted_count(),
                    },
                )
            )

    async def serve() -> None:
        async with app.router.lifespan_context(app):
            await app(scope, receive, send)

    try:
        asyncio.run(serve())
    finally:
        gc.unfreeze()  # the lifespan froze this test process's objects


def test_the_batch_is_captured_before_the_answer_and_counted_and_logged_after(
    trained_home: Path, tmp_path: Path
):
    home = tmp_path / "home"
    shutil.copytree(
        trained_home, home, ignore=shutil.ignore_patterns("captured_data", "logs", ".prometheus")
    )
    app = create_app(home, compile_models=False, shadow_sample=0)
    rows = binary_frame(50, seed=3)[COLUMNS].values.tolist()
    body = orjson.dumps({"id": "order-1", "columns": COLUMNS, "rows": rows})
    events: list[tuple[str, Any]] = []
    logger = logging.getLogger("mara.serve")
    recorder, level = Recorder(events), logger.level
    logger.addHandler(recorder)
    logger.setLevel(logging.INFO)
    counted_before = predicted_count()
    try:
        call(app, body, events, captured_dir(home, "phase-1", "prob-1"))
    finally:
        logger.removeHandler(recorder)
        logger.setLevel(level)
    answered = [i for i, (kind, _) in enumerate(events) if kind == "answered"]
    assert len(answered) == 1
    answer = events[answered[0]][1]
    assert answer["body"]["id"] == "order-1" and len(answer["body"]["predictions"]) == 50
    # On disk before the answer left; not yet counted in the metrics when it left.
    assert answer["captured"] == ["order-1"]
    assert answer["counted"] == counted_before
    # Counted and logged once the answer was sent, before the call returned.
    assert predicted_count() == counted_before + 1
    logged = [message for kind, message in events[answered[0] + 1 :] if kind == "logged"]
    assert any("id=order-1 rows=50" in message for message in logged)
    assert not any(
        "id=order-1" in message for kind, message in events[: answered[0]] if kind == "logged"
    )


def refused_count(phase: str, problem: str, code: str) -> float:
    labels = {"phase": phase, "problem": problem, "code": code}
    return REGISTRY.get_sample_value("mara_requests_total", labels) or 0.0


def test_a_refused_request_is_counted_once(trained_home: Path, tmp_path: Path):
    home = tmp_path / "home"
    shutil.copytree(
        trained_home, home, ignore=shutil.ignore_patterns("captured_data", "logs", ".prometheus")
    )
    app = create_app(home, compile_models=False, shadow_sample=0)
    bad = refused_count("phase-1", "phase-1/prob-1", "422")
    unknown = refused_count("unknown", "unknown/unknown", "404")
    answered = predicted_count()
    events: list[tuple[str, Any]] = []
    call(app, b'{"id": 1, "columns": ["amount"], "rows": "not rows"}', events, tmp_path)
    assert [kind for kind, _ in events] == ["answered"]  # the error's answer
    assert refused_count("phase-1", "phase-1/prob-1", "422") == bad + 1
    assert predicted_count() == answered
    call(app, b"{}", events, tmp_path, path="/phase-9/nowhere/predict")
    assert refused_count("unknown", "unknown/unknown", "404") == unknown + 1
