"""Improve: a challenger trained on labelled traffic, promoted only when it earns it."""

from mara.improve.gate import (
    GateDecision,
    GateRule,
    MetricDifference,
    ScoreShift,
    paired_bootstrap,
    score_shift,
)
from mara.improve.improver import ImproveConfig, ImproveResult, improve_problem

__all__ = [
    "GateDecision",
    "GateRule",
    "ImproveConfig",
    "ImproveResult",
    "MetricDifference",
    "ScoreShift",
    "improve_problem",
    "paired_bootstrap",
    "score_shift",
]
