"""The request path's hand-off to monitoring: each request's Outcome counted and summarised.

Answered and refused requests both go through here, the one place they are counted.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from starlette.requests import Request

from mara.home import Problem
from mara.monitor import summary_record
from mara.outcome import Outcome
from mara.serve import telemetry
from mara.serve.models import ServedModel

__all__ = ["answered", "refused"]

# Refusals for problems the server does not know share these labels and are not summarised:
# a client trying made-up URLs must not create series or dashboard rows.
UNKNOWN = "unknown"


def answered(request: Request, outcome: Outcome, served: ServedModel, matrix: np.ndarray) -> None:
    """Count an answered batch and queue its summary (profiled on the detector's bins off-path)."""
    telemetry.observe_request(outcome, served)
    request.app.state.monitor.record(
        summary_record(outcome), detector=served.bundle.drift, matrix=matrix, report=outcome.report
    )


def refused(request: Request, outcome: Outcome) -> None:
    """Count and summarise a refused request."""
    models = request.app.state.models
    problem = outcome.problem
    known = (problem.phase, problem.prob) in models.unavailable or problem.path in models.names()
    if not known:
        telemetry.observe_request(dataclasses.replace(outcome, problem=Problem(UNKNOWN, UNKNOWN)))
        return
    telemetry.observe_request(outcome)
    request.app.state.monitor.record(summary_record(outcome))
