"""The endpoints: predict, health, metrics and the OpenAPI document."""

from __future__ import annotations

import logging
import os
import time

import numpy as np
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response

from mara.errors import RequestError
from mara.home import Problem
from mara.outcome import Outcome
from mara.serve import monitor, telemetry
from mara.serve.batch import Batch, InvalidBatch, parse_batch
from mara.serve.errors import json_response
from mara.serve.models import ServedModel
from mara.serve.openapi import openapi_document

__all__ = ["after_the_answer", "answer", "health", "metrics", "openapi", "predict"]

log = logging.getLogger("mara.serve")


async def predict(request: Request) -> Response:
    """`{"id", "columns", "rows"}` -> `{"id", "predictions", "drift"}`.

    A request that is not answered is counted here, the one place refusals are counted.
    """
    started = time.perf_counter()
    problem = Problem(request.path_params["phase"], request.path_params["prob"])
    try:
        return await answer(request, problem, started)
    except Exception as exc:
        status = exc.status_code if isinstance(exc, RequestError) else 500
        monitor.refused(request, Outcome.refused(problem, status, time.perf_counter() - started))
        raise


async def answer(request: Request, problem: Problem, started: float) -> Response:
    """The answer to one predict request; its Outcome goes to the capture before it leaves."""
    served = request.app.state.models.get(problem)
    body = await request.body()
    batch = parse_batch(body, max_rows=request.app.state.max_rows)
    bundle = served.bundle
    if batch.rows and not any(name in batch.columns for name in bundle.spec.features):
        raise InvalidBatch(
            f"none of the model's {len(bundle.spec.features)} feature columns was sent "
            f"(expected e.g. {list(bundle.spec.features[:5])})"
        )
    matrix, quality = bundle.prepare(batch.columns, batch.n_rows)
    # Read before predicting: a served form attached meanwhile only makes the answer faster.
    # A problem not at full speed yet (start-up, before /health is 200) still answers, with
    # the forest's own predictor, rather than hold the request for a compile.
    fast = bundle.at_full_speed
    predictions = bundle.predict_matrix(matrix) if batch.n_rows else []
    report = bundle.drift.score(matrix) if bundle.drift is not None else None
    drift = report.drift if report is not None else 0
    # Which version answered, from which worker, and whether at full speed: the server's
    # own record of each answer, for the client and for tests of a swap.
    response = json_response(
        {"id": batch.id, "predictions": predictions, "drift": drift},
        headers={
            "x-mara-version": served.version,
            "x-mara-full-speed": "1" if fast else "0",
            "x-mara-worker": str(os.getpid()),
        },
    )
    outcome = Outcome(
        problem=problem,
        status=200,
        seconds=time.perf_counter() - started,
        id=batch.id,
        version=served.version,
        quality=quality,
        report=report,
        predictions=predictions,
        binary=bundle.is_binary,
    )
    capture = request.app.state.capture
    if capture is not None:
        # Written before the answer leaves: an acknowledged batch survives a SIGKILL. The
        # rows are the body as sent, copied, never encoded again.
        written_at = time.perf_counter()
        size = capture.append_answer(outcome, body)
        telemetry.observe_capture(outcome.problem, size, time.perf_counter() - written_at)
    # The rest waits for nothing the client needs, so it runs once the answer is sent; the
    # parsed rows (some 40,000 Python objects at 1,000 rows) are given back after it too.
    response.background = BackgroundTask(after_the_answer, request, served, batch, matrix, outcome)
    return response


async def after_the_answer(
    request: Request, served: ServedModel, batch: Batch, matrix: np.ndarray, outcome: Outcome
) -> None:
    """Metrics, the dashboard's summary, the log line and the shadow's copy of a batch.

    A coroutine, so Starlette runs it on the event loop right after the body is handed to
    the socket, before this worker reads another request: whatever asks next (a scrape of
    `/metrics`, the dashboard) sees this batch counted. A plain function would go to a
    thread and race with the next request.
    """
    problem, quality = outcome.problem, outcome.quality
    monitor.answered(request, outcome, served, matrix)
    log.info(
        "%s id=%s rows=%d drift=%d ms=%.2f quality=%s",
        problem,
        batch.id,
        batch.n_rows,
        outcome.drift,
        outcome.seconds * 1000,
        quality.as_dict() if quality is not None else None,
    )
    if request.app.state.shadow is not None:
        request.app.state.shadow.submit(problem, served.version, batch, outcome.predictions)


async def health(request: Request) -> Response:
    """200 once every version of every worker is loaded and at full speed (or settled
    without it), else 503.

    Each problem says its version, learner, whether it answers at full speed and how, as
    the worker that answers (`worker`) holds it; `workers` says, for every live worker of
    this server, its status and each problem's version and speed (from the state each
    worker keeps under the home, at most a fraction of a second old).
    """
    models = request.app.state.models
    shadow = request.app.state.shadow
    # This worker's own state among them, fresh: its readiness is counted there.
    workers = request.app.state.workers.read()
    ready = all(w.get("status") == "ok" for w in workers.values())
    return json_response(
        {
            "status": "ok" if ready else "starting",
            "worker": os.getpid(),
            "models": {
                f"{p}/{q}": {
                    "name": m.name,
                    "version": m.version,
                    "learner": m.bundle.learner,
                    "full_speed": m.bundle.at_full_speed,
                    "state": models.state((p, q)),
                    "drift_detector": m.bundle.drift is not None,
                    "shadowing": shadow.shadowing(Problem(p, q), m.version) if shadow else None,
                }
                for (p, q), m in models.items()
            },
            "workers": {str(pid): state for pid, state in workers.items()},
            "unavailable": {f"{p}/{q}": reason for (p, q), reason in models.unavailable.items()},
        },
        status_code=200 if ready else 503,
    )


async def metrics(request: Request) -> Response:
    """Prometheus exposition."""
    return Response(telemetry.render(), media_type=telemetry.CONTENT_TYPE_LATEST)


async def openapi(request: Request) -> Response:
    """The OpenAPI document of this service, listing the served problems."""
    return json_response(
        openapi_document(request.app.state.models.names(), max_rows=request.app.state.max_rows)
    )
