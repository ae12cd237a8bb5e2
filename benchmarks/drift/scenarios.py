"""Drift scenarios: how a batch of held-out rows is drawn and changed, on Preprocessor matrices.

Every detector sees the same matrix rows (numeric: floats, NaN missing; categorical: codes
0..K-1, K unseen, NaN missing), so a scenario is defined once, on the matrix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["SCENARIOS", "Targets", "choose_targets", "draw_batch"]


@dataclass(frozen=True)
class Targets:
    """The columns the scenarios change, chosen once per problem from its training matrix."""

    shifted: np.ndarray  # three well-behaved numeric columns
    sd: np.ndarray  # their training standard deviations
    median: np.ndarray  # their training medians
    integer: np.ndarray  # whether each holds whole numbers only (kept so after a change)
    mix_column: int  # a categorical column whose category mix changes
    mix_code: float  # the category that gains rows: the column's second most common
    new_column: int  # the categorical column with the most categories, which gains a new one
    new_code: float  # its unseen code, K
    floor: float  # the sub-population keeps rows whose first shifted column is above this


def choose_targets(train: np.ndarray, categorical: np.ndarray, n_categories: list[int]) -> Targets:
    """Pick the columns to change: numeric ones near-symmetric and with many distinct values,
    so a shift in standard deviations means what it says; categoricals with room to change."""
    numeric = np.flatnonzero(~categorical)
    cat_columns = np.flatnonzero(categorical)

    def skew(j: int) -> float:
        x = train[:, j][~np.isnan(train[:, j])]
        if len(np.unique(x)) < 20 or np.mean(x == np.median(x)) > 0.3:
            return np.inf
        return abs(float(np.mean((x - x.mean()) ** 3) / x.std() ** 3))

    shifted = np.array(sorted(numeric, key=skew)[:3])
    values = train[:, shifted]
    shares = []
    for j in cat_columns:
        counts = np.bincount(train[:, j][~np.isnan(train[:, j])].astype(int))
        shares.append(np.sort(counts)[-2] / len(train) if len(counts) > 1 else 0.0)
    mix_column = int(cat_columns[int(np.argmax(shares))])
    mix_counts = np.bincount(train[:, mix_column][~np.isnan(train[:, mix_column])].astype(int))
    k = dict(zip(cat_columns.tolist(), n_categories, strict=True))
    new_column = max(k, key=k.get)
    return Targets(
        shifted=shifted,
        sd=np.nanstd(values, axis=0),
        median=np.nanmedian(values, axis=0),
        integer=np.all((values % 1 == 0) | np.isnan(values), axis=0),
        mix_column=mix_column,
        mix_code=float(np.argsort(mix_counts)[-2]),
        new_column=new_column,
        new_code=float(k[new_column]),
        floor=float(np.nanquantile(values[:, 0], 0.2)),
    )


def _changed(batch: np.ndarray, t: Targets, values: np.ndarray) -> np.ndarray:
    values = np.where(t.integer, np.round(values), values)
    batch[:, t.shifted] = values
    return batch


def _shift(size: float) -> Callable[[np.ndarray, Targets, np.random.Generator], np.ndarray]:
    def change(batch: np.ndarray, t: Targets, rng: np.random.Generator) -> np.ndarray:
        return _changed(batch, t, batch[:, t.shifted] + size * t.sd)

    return change


def _scale(factor: float) -> Callable[[np.ndarray, Targets, np.random.Generator], np.ndarray]:
    def change(batch: np.ndarray, t: Targets, rng: np.random.Generator) -> np.ndarray:
        return _changed(batch, t, t.median + factor * (batch[:, t.shifted] - t.median))

    return change


def _category_mix(batch: np.ndarray, t: Targets, rng: np.random.Generator) -> np.ndarray:
    batch[rng.random(len(batch)) < 0.1, t.mix_column] = t.mix_code
    return batch


def _new_category(batch: np.ndarray, t: Targets, rng: np.random.Generator) -> np.ndarray:
    batch[rng.random(len(batch)) < 0.05, t.new_column] = t.new_code
    return batch


def _missing(batch: np.ndarray, t: Targets, rng: np.random.Generator) -> np.ndarray:
    rows = rng.random(len(batch)) < 0.1
    batch[np.ix_(rows, t.shifted)] = np.nan
    return batch


def _unchanged(batch: np.ndarray, t: Targets, rng: np.random.Generator) -> np.ndarray:
    return batch


# name -> (description, change); "sub-population" is a choice of rows, made in draw_batch.
SCENARIOS: dict[str, tuple[str, Callable[[np.ndarray, Targets, np.random.Generator], np.ndarray]]]
SCENARIOS = {
    "no drift": ("held-out rows as they are", _unchanged),
    "mean +0.1 sd": ("3 numeric features shifted by 0.1 training sd", _shift(0.1)),
    "mean +0.25 sd": ("3 numeric features shifted by 0.25 sd", _shift(0.25)),
    "mean +0.5 sd": ("3 numeric features shifted by 0.5 sd", _shift(0.5)),
    "scale x1.1": ("3 numeric features spread 1.1 times around their median", _scale(1.1)),
    "scale x1.25": ("the same, 1.25 times", _scale(1.25)),
    "scale x1.5": ("the same, 1.5 times", _scale(1.5)),
    "category mix": ("10% of rows moved to a categorical's second category", _category_mix),
    "new category": ("5% of rows get a category unseen in training", _new_category),
    "sub-population": ("only rows above the 20th percentile of one feature", _unchanged),
    "missing values": ("10% of rows lose 3 numeric values (training had none or few)", _missing),
}


def draw_batch(
    pool: np.ndarray, scenario: str, n: int, t: Targets, rng: np.random.Generator
) -> np.ndarray:
    """A batch of `n` held-out rows drawn and changed as `scenario` says."""
    if scenario == "sub-population":
        pool = pool[pool[:, t.shifted[0]] > t.floor]
    batch = pool[rng.choice(len(pool), n, replace=False)].copy()
    return SCENARIOS[scenario][1](batch, t, rng)
