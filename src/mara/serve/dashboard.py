"""The /dashboard pages of `mara serve`, read from the summary store on every request."""

from __future__ import annotations

import time
from importlib.resources import files
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from mara.errors import ModelNotFound, ModelUnavailable
from mara.home import Problem
from mara.monitor.aggregate import feature_rows, feature_view, overview, problem_view
from mara.monitor.pages import document, feature_section, overview_section, problem_sections
from mara.monitor.store import SummaryStore
from mara.monitor.window import parse_duration, parse_since

if TYPE_CHECKING:
    from mara.serve.models import ServedModel

__all__ = ["CSP", "dashboard_routes"]

# Everything comes from this server; charts are inline SVG, so nothing else is needed.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
_HEADERS = {"Content-Security-Policy": CSP, "Cache-Control": "no-store"}
_STATIC = {"style.css": "text/css", "live.js": "text/javascript"}
DEFAULT_WINDOW = "15m"


def _store(request: Request) -> SummaryStore:
    store: SummaryStore = request.app.state.monitor_store
    store.refresh()
    return store


def _html(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(document(title, body, live=True), headers=_HEADERS)


async def dashboard(request: Request) -> Response:
    """Every problem, worst first."""
    store, now = _store(request), time.time()
    window_s = parse_duration(request.query_params.get("window", DEFAULT_WINDOW))
    models = request.app.state.models
    served = {f"{p}/{q}": m.version for (p, q), m in models.items()}
    unavailable = [f"{p}/{q}" for p, q in models.unavailable]
    rows = overview(store, served=served, unavailable=unavailable, now=now, window_s=window_s)
    return _html("mara monitoring", overview_section(rows, now=now, window_s=window_s))


async def problem_page(request: Request) -> Response:
    """One problem's drift, features, quality, latency, predictions and performance."""
    problem = Problem(request.path_params["phase"], request.path_params["prob"])
    store, now = _store(request), time.time()
    since = request.query_params.get("since")
    start = parse_since(since, now=now) if since else None
    served = _served(request, problem, store)
    view = problem_view(store, problem.path, since=start, now=now)
    features = None
    if served is not None and served.bundle.drift is not None:
        features = feature_rows(
            store.profiles(problem.path, since=view.start),
            served.bundle.drift,
            start=view.start,
            end=view.end,
            query=request.query_params.get("q", ""),
        )
    realized = []
    if served is not None:
        realized = await run_in_threadpool(
            request.app.state.realized.rows, problem, served.bundle.classes
        )
    estimated, note = [], ""
    estimates = getattr(request.app.state, "estimated", None)
    if estimates is not None:
        done = estimates.rows(problem)
        estimated, note = (
            done
            if done is not None
            else ([], "Estimates are being computed; this page refreshes by itself.")
        )
    body = problem_sections(
        view,
        features,
        realized,
        estimated=estimated,
        estimate_note=note,
        query=request.query_params.get("q", ""),
    )
    return _html(f"{problem} · mara", body)


async def feature_page(request: Request) -> Response:
    """One feature's reference and recent distributions on the detector's bins."""
    problem = Problem(request.path_params["phase"], request.path_params["prob"])
    feature = request.path_params["feature"]
    store, now = _store(request), time.time()
    served = _served(request, problem, store)
    detector = served.bundle.drift if served is not None else None
    if detector is None or feature not in detector.feature_names_in_:
        raise ModelNotFound(f"{problem} has no drift-monitored feature {feature!r}")
    since = request.query_params.get("since")
    start = parse_since(since, now=now) if since else now - 3600
    profiles = store.profiles(problem.path, since=start)
    categories = served.bundle.preprocessor.categories_.get(feature, [])
    view = feature_view(
        profiles, detector, version=served.version, feature=feature, categories=categories
    )
    rows = feature_rows(profiles, detector, start=start, end=now)
    row = next((r for r in rows if r.name == feature), None)
    return _html(f"{feature} · {problem} · mara", feature_section(view, row, problem=problem.path))


async def static(request: Request) -> Response:
    """The dashboard's own style sheet and script."""
    name = request.path_params["name"]
    if name not in _STATIC:
        raise ModelNotFound(f"no dashboard file {name!r}")
    body = files("mara.monitor").joinpath("static", name).read_bytes()
    return Response(body, media_type=_STATIC[name], headers=_HEADERS)


def _served(request: Request, problem: Problem, store: SummaryStore) -> ServedModel | None:
    models = request.app.state.models
    try:
        return models.get(problem)
    except ModelNotFound:
        if problem.path in store.problems():
            return None  # summaries of a problem no longer served still show
        raise
    except ModelUnavailable:  # its summaries still show, without feature views
        return None


dashboard_routes = [
    Route("/dashboard", dashboard, methods=["GET"]),
    Route("/dashboard/static/{name}", static, methods=["GET"]),
    Route("/dashboard/{phase}/{prob}", problem_page, methods=["GET"]),
    Route("/dashboard/{phase}/{prob}/features/{feature:path}", feature_page, methods=["GET"]),
]
