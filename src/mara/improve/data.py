"""What a challenger learns from and is judged on: the table, older traffic, recent traffic."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mara.spec import ProblemSpec
from mara.train.data import TrainingTable

__all__ = ["ImproveData", "short_of_floor", "split_recent"]


def short_of_floor(labelled: pd.DataFrame, per_class: int, requests: int) -> str | None:
    """Why these labelled rows (`label`, and `key`: their request) are too few to judge on at
    all, or None.

    The floor is small on purpose: at least `per_class` rows of each of two classes (both
    classes, binary), enough for a metric to exist on every block, from at least `requests`
    requests, since the interval resamples requests and a handful of them cannot show their
    own spread. How much the rows prove is the interval's business, not a count's.
    """
    counts = labelled["label"].astype(str).value_counts()
    shown = ", ".join(f"{label}: {n}" for label, n in counts.items()) or "none"
    if int((counts >= per_class).sum()) < 2:
        return (
            f"{len(labelled)} labelled traffic row(s) ({shown}); the floor is {per_class} rows "
            "of each of two classes: nothing trained"
        )
    sent = labelled["key"].nunique()
    if sent < requests:
        return (
            f"{len(labelled)} labelled traffic rows ({shown}) from {sent} request(s); the floor "
            f"is {requests} requests (the interval resamples requests): nothing trained"
        )
    return None


def split_recent(traffic: pd.DataFrame, share: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Time-ordered labelled traffic cut in two: older rows to learn from, the newest to judge.

    `traffic` is oldest first (as the reader gives it); the newest `share` of its rows is the
    recent set, so the challenger is judged on traffic later than any it learned from.
    """
    recent_rows = int(round(len(traffic) * share))
    cut = len(traffic) - recent_rows
    return traffic.iloc[:cut], traffic.iloc[cut:]


@dataclass(frozen=True)
class ImproveData:
    """The training table's rows plus older labelled traffic, weighted; and the recent set."""

    spec: ProblemSpec
    table: TrainingTable
    older: pd.DataFrame
    recent: pd.DataFrame
    traffic_weight: float

    def training_rows(self) -> tuple[pd.DataFrame, pd.Series, np.ndarray]:
        """Raw features, labels and weights of every row a challenger learns from: the
        table's training rows weigh 1, the `older` labelled traffic `traffic_weight`; the
        `recent` rows are only judged on."""
        features = list(self.spec.features)
        traffic = self.older
        table_rows = self.table.train_frame.reindex(columns=features)
        frame = pd.concat([table_rows, traffic[features]], ignore_index=True)
        labels = pd.concat(
            [self.table.labels.iloc[self.table.train], traffic["label"]], ignore_index=True
        )
        weights = np.concatenate(
            [np.ones(len(table_rows)), np.full(len(traffic), self.traffic_weight)]
        )
        return frame, labels, weights
