"""Send a requests file to a running mara server and check every answer against the contract.

The contract: ``POST <url>/<phase>/<prob>/predict`` with ``{"id", "columns", "rows"}`` answers
200 with ``{"id": same id, "predictions": one per row, "drift": 0 or 1}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from mara.bench.report import BenchResult, Tally, looks_like_probabilities
from mara.errors import MaraError

__all__ = ["DEFAULT_TIMEOUT_S", "BenchError", "BenchRequest", "load_requests", "run_bench"]

DEFAULT_TIMEOUT_S = 30.0
_HEADERS = {"content-type": "application/json", "accept": "application/json"}
_MAX_MESSAGE = 160

# (predictions, drift) of an answer that met the contract, else what was wrong with it
_Outcome = tuple[list[Any], int] | str


class BenchError(MaraError):
    """The bench cannot run as asked: unreadable requests file, bad URL or options."""


@dataclass(frozen=True)
class BenchRequest:
    """One request body, serialized once, with its true labels kept apart."""

    id: Any
    n_rows: int
    body: bytes
    labels: tuple[Any, ...] | None = None


class _Violation(Exception):
    """An answer that breaks the contract; the message says how."""


def load_requests(path: Path | str, *, limit: int | None = None) -> list[BenchRequest]:
    """Read a JSONL requests file, one body per line, blank lines skipped.

    An optional ``"labels"`` key (one true label per row) is removed from the body and kept on
    ``BenchRequest.labels``; bodies are serialized here so a run never times its own encoding.
    Raises BenchError naming the line that is not a request body.
    """
    path = Path(path)
    requests: list[BenchRequest] = []
    try:
        with path.open("rb") as fh:
            for lineno, line in enumerate(fh, 1):
                if limit is not None and len(requests) >= limit:
                    break
                if line.strip():
                    requests.append(_parse_line(line, f"{path}:{lineno}"))
    except OSError as exc:
        raise BenchError(f"cannot read {path}: {exc}") from exc
    return requests


def run_bench(
    url: str,
    phase: str,
    prob: str,
    requests: Sequence[BenchRequest],
    *,
    concurrency: int = 1,
    repeat: int = 1,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    progress: bool = True,
) -> BenchResult:
    """Send ``requests`` (``repeat`` times over) to ``<url>/<phase>/<prob>/predict``.

    ``concurrency`` requests are in flight at once over one keep-alive pool; 1 sends them one
    after another. Each latency is timed client-side around send and read. Contract violations,
    HTTP errors, connection errors and timeouts are counted, never raised. The progress bar goes
    to stderr and only when it is a terminal. Runs its own event loop, so call it from sync code.
    """
    if concurrency < 1 or repeat < 1:
        raise BenchError(f"concurrency and repeat must be >= 1, got {concurrency} and {repeat}")
    target = _target_url(url, phase, prob)
    jobs = [req for _ in range(repeat) for req in requests]
    tally = Tally()
    console = Console(stderr=True)
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("[red]{task.fields[errors]} errors"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not (progress and console.is_terminal),
    )
    with bar:
        task = bar.add_task(f"{phase}/{prob}", total=len(jobs), errors=0)

        def record(req: BenchRequest, latency_ms: float, answer: _Outcome) -> None:
            if isinstance(answer, str):
                tally.add_error(req.n_rows, answer)
            else:
                tally.add_ok(req.n_rows, req.labels, latency_ms, *answer)
            bar.update(task, advance=1, errors=tally.errors)

        wall_s = asyncio.run(
            _drive(target, jobs, concurrency=concurrency, timeout_s=timeout_s, record=record)
        )
    return tally.result(wall_s)


async def _drive(
    target: str,
    jobs: list[BenchRequest],
    *,
    concurrency: int,
    timeout_s: float,
    record: Callable[[BenchRequest, float, _Outcome], None],
) -> float:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=timeout_s, limits=limits, headers=_HEADERS) as client:
        pending = iter(jobs)

        async def worker() -> None:
            # one shared iterator needs no lock: the event loop runs one worker at a time
            for req in pending:
                record(req, *await _post(client, target, req))

        # Open every connection first, as a long-running client would have them open: a TCP
        # handshake in the first request is the client's start-up, not serving time.
        health = target.rsplit("/", 3)[0] + "/health"
        with contextlib.suppress(httpx.HTTPError):
            await asyncio.gather(*(client.get(health) for _ in range(concurrency)))
        # the clock starts once the client exists: building its SSL context is not serving time
        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - start


async def _post(
    client: httpx.AsyncClient, target: str, req: BenchRequest
) -> tuple[float, _Outcome]:
    start = time.perf_counter()
    try:
        response = await client.post(target, content=req.body)
    except httpx.HTTPError as exc:
        detail = f": {exc}" if str(exc) else ""
        return math.nan, _short(f"id {req.id!r}: {type(exc).__name__}{detail}")
    latency_ms = (time.perf_counter() - start) * 1e3
    try:
        return latency_ms, _check_answer(req, response.status_code, response.content)
    except _Violation as exc:
        return latency_ms, _short(f"id {req.id!r}: {exc}")


def _check_answer(req: BenchRequest, status: int, content: bytes) -> tuple[list[Any], int]:
    """Return ``(predictions, drift)`` of a contract-abiding answer, else raise _Violation."""
    if status != 200:
        raise _Violation(f"HTTP {status}: {content[:100].decode(errors='replace')}")
    try:
        answer = orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        raise _Violation("answer is not JSON") from exc
    if not isinstance(answer, dict):
        raise _Violation(f"answer is a JSON {type(answer).__name__}, not an object")
    if "id" not in answer or answer["id"] != req.id:
        raise _Violation(f"answer id {answer.get('id')!r} is not the id sent")
    predictions = answer.get("predictions")
    if not isinstance(predictions, list):
        raise _Violation("'predictions' is missing or not a list")
    if len(predictions) != req.n_rows:
        raise _Violation(f"{len(predictions)} predictions for {req.n_rows} rows")
    drift = answer.get("drift")
    # type() rather than isinstance(): JSON true is not the 1 the contract asks for
    if type(drift) is not int or drift not in (0, 1):
        raise _Violation(f"drift must be 0 or 1, got {drift!r}")
    if looks_like_probabilities(predictions):
        bad = [p for p in predictions if not (math.isfinite(p) and 0.0 <= p <= 1.0)]
        if bad:
            raise _Violation(f"probability {bad[0]!r} is outside [0, 1]")
    return predictions, drift


def _parse_line(line: bytes, where: str) -> BenchRequest:
    try:
        body = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise BenchError(f"{where}: not JSON ({exc})") from exc
    if not isinstance(body, dict) or "id" not in body or not isinstance(body.get("rows"), list):
        raise BenchError(f"{where}: expected an object with 'id' and a list 'rows'")
    n_rows = len(body["rows"])
    labels = body.pop("labels", None)
    if labels is not None:
        if not isinstance(labels, list) or len(labels) != n_rows:
            raise BenchError(f"{where}: 'labels' must be a list with one label per row ({n_rows})")
        if any(isinstance(v, list | dict) for v in labels):
            raise BenchError(f"{where}: labels must be JSON scalars")
        labels = tuple(labels)
    return BenchRequest(id=body["id"], n_rows=n_rows, body=orjson.dumps(body), labels=labels)


def _target_url(url: str, phase: str, prob: str) -> str:
    target = f"{url.rstrip('/')}/{phase}/{prob}/predict"
    try:
        parsed = httpx.URL(target)
    except httpx.InvalidURL as exc:
        raise BenchError(f"bad URL {url!r}: {exc}") from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise BenchError(f"bad URL {url!r}: expected http(s)://host[:port]")
    return target


def _short(message: str) -> str:
    return message if len(message) <= _MAX_MESSAGE else message[: _MAX_MESSAGE - 3] + "..."
