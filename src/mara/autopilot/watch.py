"""Watch: what the autopilot sees of a problem at one look, and the rules that make it act."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mara.autopilot.config import AutopilotConfig
from mara.estimate import PerformanceEstimate
from mara.improve import ScoreShift
from mara.improve.data import short_of_floor
from mara.labels import labelled_traffic
from mara.spec import ProblemSpec

__all__ = ["Watch", "improve_trigger", "look"]


@dataclass(frozen=True)
class Watch:
    """One look at a problem's traffic: its batches, and its labelled rows with features."""

    batches: pd.DataFrame
    labelled: pd.DataFrame

    def drifted(self, last: int) -> int:
        """Flagged batches among the last `last` that were large enough to be judged."""
        judged = self.batches[self.batches["drift_statistic"].notna()]
        return int(judged["drift"].tail(last).sum())


def look(home: Path, spec: ProblemSpec, *, trusted: Collection[str] | None = None) -> Watch:
    """The problem's captured batches and labelled rows (of `trusted` senders, when given),
    read through the one reader."""
    labelled, index = labelled_traffic(home, spec.phase, spec.prob, spec.features, trusted=trusted)
    return Watch(index.batches(), labelled)


def improve_trigger(
    watch: Watch,
    labelled_at_improve: int,
    config: AutopilotConfig,
    estimate: PerformanceEstimate | None = None,
    realized: ScoreShift | None = None,
) -> str | None:
    """Why improve should run now, or None: when the evidence could pass the gate.

    - The labelled traffic first meets improve's per-class floor (the interval decides the
      rest), or has grown by `label_growth` since the last run: the gain's interval narrows
      with the square root of the rows, so 1.5 times the rows is a narrower interval
      (by a fifth), which may now clear 0 where the last did not.
    - A realized drop: the champion's score on the labelled rows it answered is below its
      holdout score beyond the interval (`realized`), with `min_drift_labels` new rows.
    - An estimated drop (before labels), or drift in `drift_k` of the last `drift_m`
      batches, with `min_drift_labels` new rows: improve learns from labels, not alarms.
    Never below improve's floor.
    """
    labelled = len(watch.labelled)
    new_labels = labelled - labelled_at_improve
    improve = config.improve
    if short_of_floor(watch.labelled, improve.min_class_rows, improve.min_requests) is not None:
        return None
    if labelled_at_improve == 0:
        return (
            f"{labelled} labelled rows meet improve's floor ({improve.min_class_rows} of each "
            f"of two classes, {improve.min_requests} requests)"
        )
    if labelled >= labelled_at_improve * (1 + config.label_growth):
        return (
            f"{labelled} labelled rows, {1 + config.label_growth:g} times the "
            f"{labelled_at_improve} of the last run: a narrower interval"
        )
    if new_labels < config.min_drift_labels:
        return None
    behind = f"and {new_labels} newly labelled rows"
    if realized is not None and realized.high < 0:
        return (
            f"realized drop: the champion's {realized.metric} {realized.recent:.4f} on "
            f"{realized.rows} labelled rows it answered vs {realized.holdout:.4f} on its "
            f"holdout, {realized.difference:+.4f} [{realized.low:+.4f}, {realized.high:+.4f}], "
            f"{behind}"
        )
    if estimate is not None and estimate.below_baseline:
        return (
            f"estimated {estimate.metric} {estimate.estimate:.4f} [{estimate.low:.4f}, "
            f"{estimate.high:.4f}] on {estimate.n_rows} recent rows, below the holdout's "
            f"{estimate.baseline:.4f}, {behind}"
        )
    drifted = watch.drifted(config.drift_m)
    if drifted >= config.drift_k:
        return (
            f"drift in {drifted} of the last {config.drift_m} batches {behind} "
            f"(rule: {config.drift_k} of {config.drift_m}, {config.min_drift_labels} rows)"
        )
    return None
