"""The request path's hand-off to monitoring: one summary per answered or refused request."""

from __future__ import annotations

from typing import Any

import numpy as np
from starlette.requests import Request

from mara.drift import DriftReport
from mara.monitor import batch_record, error_record
from mara.preprocess import DataQuality
from mara.serve import telemetry
from mara.serve.models import ServedModel

__all__ = ["answered", "refused"]

# Refusals for problems the server does not know share these labels and are not summarised:
# a client trying made-up URLs must not create series or dashboard rows.
UNKNOWN = "unknown"


def answered(
    request: Request,
    served: ServedModel,
    matrix: np.ndarray,
    quality: DataQuality,
    report: DriftReport | None,
    predictions: list[Any],
    seconds: float,
) -> None:
    """Queue the summary of an answered batch (profiled on the detector's bins off-path)."""
    phase, prob = request.path_params["phase"], request.path_params["prob"]
    record = batch_record(
        phase=phase,
        prob=prob,
        version=served.version,
        seconds=seconds,
        quality=quality,
        report=report,
        predictions=predictions,
        binary=served.bundle.is_binary,
    )
    request.app.state.monitor.record(
        record, detector=served.bundle.drift, matrix=matrix, report=report
    )


def refused(request: Request, phase: str, prob: str, status: int, seconds: float) -> None:
    """Count and summarise a refused request."""
    models = request.app.state.models
    known = (phase, prob) in models.unavailable or f"{phase}/{prob}" in models.names()
    if not known:
        telemetry.observe_error(UNKNOWN, UNKNOWN, status)
        return
    telemetry.observe_error(phase, prob, status)
    request.app.state.monitor.record(
        error_record(phase=phase, prob=prob, code=status, seconds=seconds)
    )
