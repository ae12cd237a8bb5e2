"""create_app: the prediction service for every problem that has a champion."""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import threading
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from mara.capture import CaptureIndexes, CaptureWriter
from mara.monitor import SummaryStore, SummaryWriter
from mara.monitor.estimated import EstimatedPerformance
from mara.monitor.performance import RealizedPerformance
from mara.registry import CHALLENGER
from mara.serve import telemetry
from mara.serve.auth import Auth, guarded
from mara.serve.batch import DEFAULT_MAX_ROWS
from mara.serve.dashboard import dashboard_routes
from mara.serve.errors import HANDLERS
from mara.serve.handlers import health, metrics, openapi, predict
from mara.serve.labels import LabelDesk, post_labels
from mara.serve.limits import (
    DEFAULT_SHADOW_CPU_SHARE,
    Limits,
    LimitsMiddleware,
)
from mara.serve.login import login_routes
from mara.serve.logs import logging_off_the_request_path
from mara.serve.models import DEFAULT_FAST_TIMEOUT_S, ServedModels
from mara.serve.options import ServeOptions
from mara.serve.shadow import SHADOW_STREAM, ShadowScorer
from mara.serve.workers import WorkerStates, worker_state

__all__ = ["YOUNG_GC_THRESHOLD", "create_app", "app_from_env"]

log = logging.getLogger("mara.serve")

# A batch's parsed rows are thousands of lists that die with the request and hold no cycle.
# At Python's default (700 new containers) the collector scans them several times per batch,
# for nothing (about 15 % of the CPU of a 10,000-row batch in `make bench-serve-stages`). Past
# this many, most of a batch is freed before a collection comes.
YOUNG_GC_THRESHOLD = 50_000

routes = [
    Route("/{phase}/{prob}/predict", predict, methods=["POST"]),
    Route("/{phase}/{prob}/labels", post_labels, methods=["POST"]),
    Route("/health", health, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
    Route("/openapi.json", openapi, methods=["GET"]),
    *dashboard_routes,
    *login_routes,
]


def create_app(
    home: Path,
    *,
    max_rows: int = DEFAULT_MAX_ROWS,
    capture: bool = True,
    compile_models: bool = True,
    fast_timeout_s: float = DEFAULT_FAST_TIMEOUT_S,
    follow_interval_s: float = 0.0,
    limits: Limits | None = None,
    shadow_sample: float = 1.0,
    shadow_cpu_share: float = DEFAULT_SHADOW_CPU_SHARE,
    auth: Auth | None = None,
) -> Starlette:
    """The Starlette app; models load through the registry when it starts.

    `limits` (default: derived from `max_rows`) are enforced before a handler runs. With
    `compile_models`, `/health` is 503 until every version is at full speed, or has given
    up on it (failed, disagreed, or not done in `fast_timeout_s`). Each
    problem's challenger scores `shadow_sample` of the live batches in the background, using
    at most `shadow_cpu_share` of a core (a sample of 0: no shadow scoring). Each route
    needs what `mara.serve.auth.ROUTE_SCOPES` says once `auth` has a token (None: all open).
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.models = ServedModels.load(Path(home))
        if compile_models:
            app.state.models.make_fast(Path(home), timeout_s=fast_timeout_s)
        app.state.capture = CaptureWriter(Path(home)) if capture else None
        # One index per problem for the process: labels and realized metrics share it.
        indexes = CaptureIndexes(Path(home))
        app.state.labels = LabelDesk(Path(home), indexes)
        app.state.monitor = SummaryWriter(Path(home))
        app.state.monitor_store = SummaryStore(Path(home))
        app.state.realized = RealizedPerformance(Path(home), indexes=indexes)
        app.state.estimated = EstimatedPerformance(Path(home))
        # Read the summaries already on disk now, so the first dashboard request is quick.
        threading.Thread(
            target=app.state.monitor_store.warm, name="mara-monitor-warm", daemon=True
        ).start()
        telemetry.observe_models(app.state.models)
        app.state.shadow = None
        # Metrics hear of the champions' swaps (not the shadowed challengers').
        followed = [(app.state.models, compile_models, telemetry.observe_model)]
        if shadow_sample > 0:
            challengers = ServedModels.load(Path(home), alias=CHALLENGER)
            app.state.shadow = ShadowScorer(
                challengers,
                CaptureWriter(Path(home), stream=SHADOW_STREAM),
                sample=shadow_sample,
                cpu_share=shadow_cpu_share,
            )
            followed.append((challengers, False, None))
        stop_following = threading.Event()
        if follow_interval_s > 0:
            for models, compiled, on_swap in followed:
                models.follow(
                    Path(home),
                    interval_s=follow_interval_s,
                    stop=stop_following,
                    compile_models=compiled,
                    timeout_s=fast_timeout_s,
                    on_swap=on_swap,
                )
        # What this worker answers, for /health on whichever worker a client reaches.
        app.state.workers = WorkerStates(Path(home), lambda: worker_state(app.state.models))
        app.state.workers.start()
        log.info("serving %s", ", ".join(app.state.models.names()) or "no models")
        # Start-up made millions of long-lived objects (MLflow, models); keep them out of
        # every later full collection, which would otherwise pause requests to scan them.
        gc.collect()
        gc.freeze()
        thresholds = gc.get_threshold()
        gc.set_threshold(YOUNG_GC_THRESHOLD, *thresholds[1:])
        with logging_off_the_request_path():
            try:
                yield
            finally:
                gc.set_threshold(*thresholds)
                app.state.workers.close()
                stop_following.set()
                if app.state.shadow is not None:
                    app.state.shadow.close()
                    app.state.shadow.writer.close()
                if app.state.capture is not None:
                    app.state.capture.close()
                app.state.monitor.close()

    limits = limits or Limits.for_rows(max_rows)
    app = Starlette(
        routes=guarded(routes),
        lifespan=lifespan,
        exception_handlers=HANDLERS,
        middleware=[Middleware(LimitsMiddleware, limits=limits)],
    )
    app.state.max_rows = max_rows
    app.state.auth = auth
    return app


def app_from_env() -> Starlette:
    """The app for `uvicorn --factory` and Ray's replicas: `ServeOptions` from the MARA_*
    variables `mara serve` wrote, tokens from theirs."""
    options = ServeOptions.from_env(os.environ)
    return create_app(
        options.home,
        max_rows=options.max_rows,
        capture=options.capture,
        compile_models=options.compile_models,
        fast_timeout_s=options.fast_timeout_s,
        follow_interval_s=options.follow_interval_s,
        limits=Limits.for_rows(
            options.max_rows,
            max_body_bytes=options.max_body_bytes,
            max_in_flight=options.max_in_flight,
            body_timeout_s=options.body_timeout_s,
        ),
        shadow_sample=options.shadow_sample,
        shadow_cpu_share=options.shadow_cpu_share,
        auth=Auth.from_env(os.environ),
    )
