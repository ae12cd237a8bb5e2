"""Watch: what the autopilot sees of a problem at one look, and the rules that make it act."""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mara.autopilot.config import AutopilotConfig
from mara.estimate import PerformanceEstimate
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
    new_labels: int,
    config: AutopilotConfig,
    estimate: PerformanceEstimate | None = None,
) -> str | None:
    """Why improve should run now, or None: enough new labels, or drift or an estimated drop
    of the champion with some labels (improve learns from labels, not from the alarm).

    Never before improve has the labelled rows it needs to train at all.
    """
    improve = config.improve
    if len(watch.labelled) < math.ceil(improve.min_recent_rows / improve.recent_share):
        return None
    if new_labels >= config.min_new_labels:
        return f"{new_labels} newly labelled rows (rule: {config.min_new_labels})"
    if estimate is not None and estimate.below_baseline and new_labels >= config.min_drift_labels:
        return (
            f"estimated {estimate.metric} {estimate.estimate:.4f} [{estimate.low:.4f}, "
            f"{estimate.high:.4f}] on {estimate.n_rows} recent rows, below the holdout's "
            f"{estimate.baseline:.4f}, and {new_labels} newly labelled rows"
        )
    drifted = watch.drifted(config.drift_m)
    if drifted >= config.drift_k and new_labels >= config.min_drift_labels:
        return (
            f"drift in {drifted} of the last {config.drift_m} batches and {new_labels} newly "
            f"labelled rows (rule: {config.drift_k} of {config.drift_m}, "
            f"{config.min_drift_labels} rows)"
        )
    return None
