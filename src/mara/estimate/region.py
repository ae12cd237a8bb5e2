"""Is a window of traffic where the held-out rows can vouch for the calibration?

A calibration learned on held-out rows holds for new rows like them: a covariate shift
inside their range leaves it right (CBPE's premise), traffic outside it does not. A domain
classifier (LightGBM, cross-fitted, on as many held-out as window rows) tells window rows
from held-out rows. Its odds p / (1 - p) are the density ratio of window to holdout at a
row: a window row at odds above `OUTSIDE_ODDS` is where the holdout has (almost) no rows.
When more than `max_outside_share` of the window is there, the estimate is flagged as out
of its region. The effective share of held-out rows once weighted by those odds (ESS / n)
is reported beside it: how much of the holdout still speaks for the window.
"""

from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import numpy as np

from mara.estimate.metrics import realized_auc

__all__ = ["DEFAULT_MAX_OUTSIDE_SHARE", "RegionCheck", "check_region"]

# Window density ten times the holdout's: a row the holdout has next to nothing like.
OUTSIDE_ODDS = 10.0
# benchmarks/estimate: windows like the holdout, or shifted inside its range, had at most
# 0.1% of their rows outside; windows moved out of its range, all of them.
DEFAULT_MAX_OUTSIDE_SHARE = 0.2
MIN_ROWS = 50
_PARAMS = {
    "objective": "binary",
    "learning_rate": 0.1,
    "num_leaves": 15,
    "min_data_in_leaf": 50,
    "feature_fraction": 0.9,
    "verbose": -1,
    "num_threads": 1,
    "seed": 0,
    "deterministic": True,
    "force_row_wise": True,
}
_ROUNDS = 40


@dataclass(frozen=True)
class RegionCheck:
    """Whether the window is within the holdout's region, and the evidence."""

    in_region: bool
    domain_auc: float | None
    outside_share: float | None
    effective_share: float | None
    reason: str


def check_region(
    holdout: np.ndarray,
    window: np.ndarray,
    *,
    categorical: list[int],
    max_outside_share: float = DEFAULT_MAX_OUTSIDE_SHARE,
    max_rows: int = 5000,
    seed: int = 0,
) -> RegionCheck:
    """Compare a window's model matrix with the holdout's (both from the model's preprocessor)."""
    if len(window) < MIN_ROWS or len(holdout) < MIN_ROWS:
        return RegionCheck(
            True, None, None, None, f"{len(window)} window rows: too few to check the region"
        )
    rng = np.random.default_rng(seed)
    rows = min(len(holdout), len(window), max_rows)  # balanced: odds are density ratios
    holdout, window = _subsample(holdout, rows, rng), _subsample(window, rows, rng)
    x = np.vstack([holdout, window])
    y = np.r_[np.zeros(rows), np.ones(rows)]
    fold = rng.permutation(len(y)) % 2
    p = np.empty(len(y))
    for k in (0, 1):  # cross-fitted: no row is scored by a model that learned it
        train = lgb.Dataset(
            x[fold != k], y[fold != k], categorical_feature=categorical, free_raw_data=False
        )
        model = lgb.train(_PARAMS, train, num_boost_round=_ROUNDS)
        p[fold == k] = model.predict(x[fold == k])
    odds = np.clip(p, 1e-3, 1 - 1e-3) / np.clip(1 - p, 1e-3, 1)
    auc = realized_auc(p, y == 1)
    outside = float(np.mean(odds[rows:] > OUTSIDE_ODDS))
    weights = odds[:rows]
    effective = float(weights.sum() ** 2 / (weights**2).sum() / rows)
    inside = outside <= max_outside_share
    reason = (
        f"{'within' if inside else 'outside'} the holdout's region: "
        f"{outside:.0%} of window rows unlike any held-out row "
        f"({'<=' if inside else '>'} {max_outside_share:.0%}), domain classifier AUC "
        f"{auc:.2f}, effective share of held-out rows {effective:.2f}"
    )
    return RegionCheck(inside, auc, outside, effective, reason)


def _subsample(x: np.ndarray, rows: int, rng: np.random.Generator) -> np.ndarray:
    return x if len(x) <= rows else x[np.sort(rng.choice(len(x), rows, replace=False))]
