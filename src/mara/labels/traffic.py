"""Captured traffic joined to its late labels: written once, for improve, the autopilot, the
monitor's realized metrics and the performance estimate.

The join is on (batch key, row): a label names a request id and a row of it, and the capture
index keeps each batch's first capture, so every (key, row) is one row on both sides.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from pathlib import Path

import pandas as pd

from mara.capture import CaptureIndex, shadow_scores
from mara.labels.ledger import LabelLedger

__all__ = ["join_rows", "labelled_rows", "labelled_traffic", "shadowed_traffic"]


def join_rows(rows: pd.DataFrame, other: pd.DataFrame) -> pd.DataFrame:
    """Rows of `rows` that `other` has too, by (key, row), with `other`'s columns beside."""
    return rows.merge(other, on=["key", "row"], how="inner", validate="one_to_one")


def labelled_rows(
    index: CaptureIndex, labels: pd.DataFrame, features: Iterable[str]
) -> pd.DataFrame:
    """The captured rows of `index` that have a label in `labels` (a ledger's `read()`)."""
    rows = index.rows(labels["key"].unique().tolist(), features=features)
    return join_rows(rows, labels)


def labelled_traffic(
    home: Path,
    phase: str,
    prob: str,
    features: Iterable[str],
    *,
    trusted: Collection[str] | None = None,
) -> tuple[pd.DataFrame, CaptureIndex]:
    """Every captured row that has a late label, with its label, oldest batch first
    (only the labels the `trusted` senders gave, when given).

    A batch id captured more than once (a client that retried) is taken at its first capture.
    The index is returned too, for what the caller reports about the capture as a whole.
    """
    index = CaptureIndex(Path(home), phase, prob).refresh()
    joined = labelled_rows(index, LabelLedger(home, phase, prob).read(trusted=trusted), features)
    return joined.sort_values(["received_at", "key", "row"], kind="stable").reset_index(
        drop=True
    ), index


def shadowed_traffic(
    home: Path,
    phase: str,
    prob: str,
    version: str,
    features: Iterable[str],
    *,
    trusted: Collection[str] | None = None,
) -> pd.DataFrame:
    """Labelled captured rows that `version` also scored in shadow, oldest first.

    Columns of `labelled_traffic` plus `shadow_prediction`; only rows answered by the version
    the challenger was shadowing (`model_version` equals the shadow's `champion_version`).
    """
    traffic, _ = labelled_traffic(home, phase, prob, features, trusted=trusted)
    scores = shadow_scores(home, phase, prob)
    scores = scores[scores["version"] == str(version)].drop(columns="version")
    joined = join_rows(traffic, scores)
    joined = joined[joined["model_version"] == joined["champion_version"]]
    return joined.drop(columns="champion_version").reset_index(drop=True)
