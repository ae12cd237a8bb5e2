"""Shifts: what changes in traffic after a champion ships, made on purpose from any problem.

Used by the demo, the improve and autopilot benchmarks and the tests: a new segment with a
rule of its own, a changed rule inside an existing segment, and a covariate shift that
leaves the rule alone.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mara.labels import positive_class
from mara.spec import ProblemSpec

__all__ = [
    "NEW_CATEGORY",
    "changed_rule",
    "covariate_shift",
    "driver_rank",
    "new_segment",
    "segment_of",
]

NEW_CATEGORY = "__new_segment__"


def _widest_numeric(frame: pd.DataFrame, spec: ProblemSpec) -> str:
    return max(spec.numeric, key=lambda c: frame[c].nunique())


def driver_rank(frame: pd.DataFrame, spec: ProblemSpec) -> np.ndarray:
    """Percentile rank of the widest numeric feature; tied values share one rank, so a rule
    on it is a function of the row's cells (by row order, 39% zeros of a count feature took
    classes by their position in the stream, which no model can learn)."""
    return frame[_widest_numeric(frame, spec)].rank(pct=True, method="average").to_numpy()


def segment_of(frame: pd.DataFrame, spec: ProblemSpec, share: float) -> np.ndarray:
    """Rows whose first categorical holds one of the levels that together cover ~`share`."""
    column = frame[spec.categorical[0]].astype(str)
    counts = column.value_counts(normalize=True)
    levels, covered = [], 0.0
    for level, part in counts.sort_values().items():  # rarer levels first: a niche segment
        if covered + part > share * 1.5:
            continue
        levels.append(level)
        covered += part
        if covered >= share:
            break
    return column.isin(levels).to_numpy()


def new_segment(frame: pd.DataFrame, spec: ProblemSpec, rng: np.random.Generator, share: float):
    """A share of rows joins a new segment (a category never seen) with a rule of its own.

    There, high values of one feature mean the positive class (binary, 10% of labels flipped)
    or the classes follow that feature's rank (multiclass). Elsewhere nothing changes, so the
    original holdout still describes the old segments.
    """
    out = frame.copy()
    segment = rng.random(len(out)) < share
    column = spec.categorical[0]
    out[column] = out[column].astype(object)
    out.loc[segment, column] = NEW_CATEGORY
    rank = driver_rank(out, spec)
    classes = sorted(frame[spec.target].unique().tolist(), key=str)
    if len(classes) == 2:
        positive = positive_class(classes)
        negative = next(c for c in classes if c != positive)
        high = (rank > 0.5) ^ (rng.random(len(out)) < 0.1)
        label = np.where(high, positive, negative)
    else:
        bins = np.minimum((rank * len(classes)).astype(int), len(classes) - 1)
        label = np.asarray(classes, dtype=object)[bins]
    out[spec.target] = out[spec.target].astype(object)
    out.loc[segment, spec.target] = label[segment]
    out[spec.target] = out[spec.target].astype(frame[spec.target].dtype)
    return out


def changed_rule(frame: pd.DataFrame, spec: ProblemSpec, rng: np.random.Generator, share: float):
    """A new scheme inside an existing segment: high values of one feature now mean a new outcome.

    Binary: those rows become the positive class (80% of them), on top of the old rule.
    Multiclass: they move to the rarest class. The original holdout still shows the old rule
    for that segment, so a model that learns the new one loses there.
    """
    out = frame.copy()
    segment = segment_of(frame, spec, share)
    rank = driver_rank(out, spec)
    hit = segment & (rank > 0.6) & (rng.random(len(out)) < 0.8)
    classes = frame[spec.target].value_counts()
    target = positive_class(classes.index.tolist()) if len(classes) == 2 else classes.index[-1]
    out[spec.target] = out[spec.target].astype(object)
    out.loc[hit, spec.target] = target
    out[spec.target] = out[spec.target].astype(frame[spec.target].dtype)
    return out


def covariate_shift(frame: pd.DataFrame, spec: ProblemSpec, rng: np.random.Generator, rows: int):
    """Rows drawn with a preference for high values of one feature: x moves, P(y|x) does not."""
    driver = _widest_numeric(frame, spec)
    rank = frame[driver].rank(pct=True, method="first").to_numpy()
    weight = np.exp(3.0 * rank)
    size = min(rows, len(frame))
    pick = rng.choice(len(frame), size=size, replace=False, p=weight / weight.sum())
    return frame.iloc[np.sort(pick)].reset_index(drop=True)
