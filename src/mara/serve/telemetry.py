"""Prometheus metrics of the service: traffic, latency, data quality and drift."""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

from mara.preprocess import DataQuality

__all__ = ["CONTENT_TYPE_LATEST", "observe_batch", "observe_capture", "observe_error", "render"]

_LABELS = ("problem",)
REQUESTS = Counter("mara_requests_total", "Prediction requests answered", ("problem", "status"))
ROWS = Counter("mara_rows_total", "Rows predicted", _LABELS)
LATENCY = Histogram(
    "mara_predict_seconds",
    "Time to answer a prediction request, server side",
    _LABELS,
    buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0),
)
DRIFT = Counter("mara_drift_flags_total", "Batches flagged as drifted", _LABELS)
CELLS = Counter(
    "mara_cells_total", "Cells seen, by what cleaning made of them", ("problem", "kind")
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


def observe_batch(problem: str, seconds: float, quality: DataQuality, drift: int) -> None:
    """Count one answered batch."""
    REQUESTS.labels(problem, "200").inc()
    ROWS.labels(problem).inc(quality.rows)
    LATENCY.labels(problem).observe(seconds)
    DRIFT.labels(problem).inc(drift)
    CELLS.labels(problem, "all").inc(quality.cells)
    CELLS.labels(problem, "missing").inc(quality.cells_missing)
    CELLS.labels(problem, "coerced").inc(quality.cells_coerced)
    CELLS.labels(problem, "invalid").inc(quality.cells_invalid)
    CELLS.labels(problem, "unseen_category").inc(quality.unseen_categories)


def observe_capture(problem: str, size: int, seconds: float) -> None:
    """Count one batch written to the capture (`size` 0: it could not be written)."""
    if size:
        CAPTURED.labels(problem).inc()
        CAPTURED_BYTES.labels(problem).inc(size)
    else:
        CAPTURE_DROPPED.labels(problem).inc()
    CAPTURE_WRITE.labels(problem).observe(seconds)


def observe_error(problem: str, status: int) -> None:
    """Count one refused request."""
    REQUESTS.labels(problem, str(status)).inc()


def render() -> bytes:
    """The exposition text; across worker processes when PROMETHEUS_MULTIPROC_DIR is set."""
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest()
