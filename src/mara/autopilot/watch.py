"""Watch: what the autopilot sees of a problem at one look, and the rules that make it act."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mara.autopilot.config import AutopilotConfig
from mara.capture import labelled_traffic
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


def look(home: Path, spec: ProblemSpec) -> Watch:
    """The problem's captured batches and labelled rows, read through the one reader."""
    labelled, index = labelled_traffic(home, spec.phase, spec.prob, spec.features)
    return Watch(index.batches(), labelled)


def improve_trigger(watch: Watch, new_labels: int, config: AutopilotConfig) -> str | None:
    """Why improve should run now, or None: enough new labels, or drift with some labels."""
    if new_labels >= config.min_new_labels:
        return f"{new_labels} newly labelled rows (rule: {config.min_new_labels})"
    drifted = watch.drifted(config.drift_m)
    if drifted >= config.drift_k and new_labels >= config.min_drift_labels:
        return (
            f"drift in {drifted} of the last {config.drift_m} batches and {new_labels} newly "
            f"labelled rows (rule: {config.drift_k} of {config.drift_m}, "
            f"{config.min_drift_labels} rows)"
        )
    return None
