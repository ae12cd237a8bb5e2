"""Outcome: what one predict request came to, answered or refused, as one value.

The server builds it once per request; the capture, the Prometheus metrics and the monitor's
summary line each take it, so a request's facts are named in one place.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mara.drift import DriftReport
    from mara.home import Problem
    from mara.preprocess import DataQuality

__all__ = ["Outcome"]


@dataclass(frozen=True)
class Outcome:
    """One predict request: its problem, HTTP status and server time; the answer's facts
    (version, data quality, drift verdict, predictions) when it was answered."""

    problem: Problem
    status: int
    seconds: float
    # Unix time the request was answered (or refused).
    at: float = field(default_factory=time.time)
    id: Any = None
    version: str | None = None
    quality: DataQuality | None = None
    report: DriftReport | None = None
    predictions: Sequence[Any] = ()
    binary: bool = True

    @classmethod
    def refused(cls, problem: Problem, status: int, seconds: float) -> Outcome:
        """A request answered with an error status."""
        return cls(problem=problem, status=status, seconds=seconds)

    @property
    def answered(self) -> bool:
        return self.status == 200

    @property
    def rows(self) -> int:
        """Rows predicted (0 for a refused request)."""
        return self.quality.rows if self.quality is not None else 0

    @property
    def drift(self) -> int:
        """The drift flag sent with the answer (0 when no verdict was given)."""
        return self.report.drift if self.report is not None else 0
