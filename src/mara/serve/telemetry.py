"""Prometheus metrics of the service: traffic, latency, models, data quality and drift.

Every metric is `mara_`-prefixed and labelled by `phase` and `problem` (`phase/prob`, so one
Grafana variable picks a problem); names never carry a problem or a model.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from mara.home import Problem
from mara.outcome import Outcome

if TYPE_CHECKING:
    from mara.serve.models import ServedModel, ServedModels

__all__ = [
    "CONTENT_TYPE_LATEST",
    "TOP_FEATURES",
    "observe_capture",
    "observe_model",
    "observe_models",
    "observe_request",
    "observe_shadow",
    "render",
]

_LABELS = ("phase", "problem")
# Per-feature drift is exported for the model's most important features only, so a problem
# with hundreds of features adds at most this many series.
TOP_FEATURES = 10
# Measured latencies run from ~1 ms (a row) to seconds (100,000 rows on a busy worker);
# the buckets reach 60 s so a stalled request is still placed, not lumped into +Inf.
LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)

REQUESTS = Counter(
    "mara_requests_total", "Prediction requests, by HTTP status code", (*_LABELS, "code")
)
ROWS = Counter("mara_rows_total", "Rows predicted", _LABELS)
LATENCY = Histogram(
    "mara_predict_seconds",
    "Time to answer a prediction request, server side",
    _LABELS,
    buckets=LATENCY_BUCKETS,
)
DRIFT_SCORED = Counter(
    "mara_drift_batches_total", "Batches large enough for a drift verdict", _LABELS
)
DRIFT = Counter("mara_drift_flags_total", "Batches flagged as drifted", _LABELS)
DRIFT_STATISTIC = Gauge(
    "mara_drift_statistic",
    "Drift statistic of the last scored batch (z-scale)",
    _LABELS,
    multiprocess_mode="mostrecent",
)
CAPTURED = Counter("mara_capture_records_total", "Batches written to the capture", _LABELS)
CAPTURED_BYTES = Counter("mara_capture_bytes_total", "Bytes written to the capture", _LABELS)
CAPTURE_DROPPED = Counter(
    "mara_capture_dropped_total", "Answered batches the capture could not write", _LABELS
)
CAPTURE_WRITE = Histogram(
    "mara_capture_write_seconds",
    "Time to encode and write one batch to the capture, on the request path",
    _LABELS,
    buckets=(0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.2, 1.0),
)
DRIFT_THRESHOLD = Gauge(
    "mara_drift_threshold",
    "Calibrated threshold the last scored batch was held to",
    _LABELS,
    multiprocess_mode="mostrecent",
)
FEATURE_DRIFT = Gauge(
    "mara_feature_drift_score",
    f"Drift score of the last scored batch, for the model's {TOP_FEATURES} most important features",
    (*_LABELS, "feature"),
    multiprocess_mode="mostrecent",
)
CELLS = Counter("mara_cells_total", "Cells seen, by what cleaning made of them", (*_LABELS, "kind"))
MODEL_VERSION = Gauge(
    "mara_model_version",
    "Registry version of the champion being served",
    _LABELS,
    multiprocess_mode="mostrecent",
)
MODEL_LOADED = Gauge(
    "mara_model_loaded",
    "1 when the problem's champion is loaded, 0 when it failed to load",
    _LABELS,
    multiprocess_mode="mostrecent",
)
_important: dict[tuple[str, str], tuple[str, ...]] = {}


def observe_request(outcome: Outcome, served: ServedModel | None = None) -> None:
    """Count one answered or refused request; an answer's rows, cells and drift verdict too."""
    labels = _labels(outcome.problem)
    REQUESTS.labels(*labels, str(outcome.status)).inc()
    quality, report = outcome.quality, outcome.report
    if not outcome.answered or quality is None:
        return
    ROWS.labels(*labels).inc(quality.rows)
    LATENCY.labels(*labels).observe(outcome.seconds)
    CELLS.labels(*labels, "all").inc(quality.cells)
    CELLS.labels(*labels, "missing").inc(quality.cells_missing)
    CELLS.labels(*labels, "coerced").inc(quality.cells_coerced)
    CELLS.labels(*labels, "invalid").inc(quality.cells_invalid)
    CELLS.labels(*labels, "unseen_category").inc(quality.unseen_categories)
    if report is None or report.threshold == float("inf"):
        return
    DRIFT_SCORED.labels(*labels).inc()
    DRIFT.labels(*labels).inc(report.drift)
    DRIFT_STATISTIC.labels(*labels).set(report.statistic)
    DRIFT_THRESHOLD.labels(*labels).set(report.threshold)
    for feature in _important_features(served) if served is not None else ():
        if feature in report.feature_scores:
            FEATURE_DRIFT.labels(*labels, feature).set(report.feature_scores[feature])


def observe_capture(problem: Problem, size: int, seconds: float) -> None:
    """Count one batch written to the capture (`size` 0: it could not be written)."""
    labels = _labels(problem)
    if size:
        CAPTURED.labels(*labels).inc()
        CAPTURED_BYTES.labels(*labels).inc(size)
    else:
        CAPTURE_DROPPED.labels(*labels).inc()
    CAPTURE_WRITE.labels(*labels).observe(seconds)


SHADOW_BATCHES = Counter(
    "mara_shadow_batches_total",
    "Live batches offered to the challenger's shadow scoring, by outcome "
    "(scored, busy: the bounded queue was full, sampled_out, repeated: an id handed "
    "over before, failed)",
    (*_LABELS, "outcome"),
)
SHADOW_ROWS = Counter("mara_shadow_rows_total", "Rows the challenger scored in shadow", _LABELS)
SHADOW_AGREED = Counter(
    "mara_shadow_agreed_rows_total",
    "Shadow-scored rows where the challenger's decision equals the champion's",
    _LABELS,
)


def observe_shadow(problem: Problem, outcome: str, rows: int = 0, agreed: int = 0) -> None:
    """One batch offered to shadow scoring; rows and agreed rows when it was scored."""
    labels = _labels(problem)
    SHADOW_BATCHES.labels(*labels, outcome).inc()
    if rows:
        SHADOW_ROWS.labels(*labels).inc(rows)
        SHADOW_AGREED.labels(*labels).inc(agreed)


def observe_model(problem: Problem, version: str | None) -> None:
    """The champion now served for a problem; None when it failed to load."""
    labels = _labels(problem)
    MODEL_LOADED.labels(*labels).set(0 if version is None else 1)
    if version is not None and version.isdigit():
        MODEL_VERSION.labels(*labels).set(int(version))


def observe_models(models: ServedModels) -> None:
    """Every served and unavailable champion, as loaded at start-up."""
    for (phase, prob), served in models.items():
        observe_model(Problem(phase, prob), served.version)
    for phase, prob in models.unavailable:
        observe_model(Problem(phase, prob), None)


def render() -> bytes:
    """The exposition text; across worker processes when PROMETHEUS_MULTIPROC_DIR is set."""
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest()


def _labels(problem: Problem) -> tuple[str, str]:
    """A problem's metric labels: `phase`, and `problem` as `phase/prob`."""
    return problem.phase, problem.path


def _important_features(served: ServedModel) -> tuple[str, ...]:
    """The model's top features by total gain, computed once per model version."""
    key = (served.name, served.version)
    if key not in _important:
        gains = served.bundle.forest.importance()
        names = served.bundle.spec.features
        order = sorted(range(len(names)), key=lambda j: -float(gains[j]))
        _important[key] = tuple(names[j] for j in order[:TOP_FEATURES])
    return _important[key]
