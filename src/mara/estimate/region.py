"""Is a window of traffic where the held-out rows can vouch for the calibration?

A calibration learned on held-out rows holds for new rows like them: a covariate shift
inside their range leaves it right (CBPE's premise), traffic outside it does not. A domain
classifier (LightGBM, cross-fitted) tells window rows from held-out rows; its odds give each
held-out row's weight as a stand-in for the window (the density ratio), and the effective
share of held-out rows left after weighting, ESS / n, says how much of the holdout still
describes the window: near 1 for traffic like it, near 0 when the window is where it has no
rows. Below `min_effective_share` the estimate is flagged as out of its region.
"""

from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import numpy as np

from mara.estimate.metrics import realized_auc

__all__ = ["DEFAULT_MIN_EFFECTIVE_SHARE", "RegionCheck", "check_region"]

# benchmarks/estimate: drift-free windows stay above 0.6; windows moved outside the
# holdout's range fall below 0.1, where the estimate's error grows several-fold.
DEFAULT_MIN_EFFECTIVE_SHARE = 0.2
MIN_ROWS = 50
_PARAMS = {
    "objective": "binary", "learning_rate": 0.1, "num_leaves": 15, "min_data_in_leaf": 50,
    "feature_fraction": 0.9, "verbose": -1, "num_threads": 1, "seed": 0,
    "deterministic": True, "force_row_wise": True,
}
_ROUNDS = 40


@dataclass(frozen=True)
class RegionCheck:
    """Whether the window is within the holdout's region, and the evidence."""

    in_region: bool
    domain_auc: float | None
    effective_share: float | None
    reason: str


def check_region(
    holdout: np.ndarray,
    window: np.ndarray,
    *,
    categorical: list[int],
    min_effective_share: float = DEFAULT_MIN_EFFECTIVE_SHARE,
    max_rows: int = 5000,
    seed: int = 0,
) -> RegionCheck:
    """Compare a window's model matrix with the holdout's (both from the model's preprocessor)."""
    if len(window) < MIN_ROWS or len(holdout) < MIN_ROWS:
        return RegionCheck(True, None, None,
                           f"{len(window)} window rows: too few to check the region")
    rng = np.random.default_rng(seed)
    holdout, window = _subsample(holdout, max_rows, rng), _subsample(window, max_rows, rng)
    x = np.vstack([holdout, window])
    y = np.r_[np.zeros(len(holdout)), np.ones(len(window))]
    fold = rng.permutation(len(y)) % 2
    p = np.empty(len(y))
    for k in (0, 1):  # cross-fitted: no row is scored by a model that learned it
        train = lgb.Dataset(x[fold != k], y[fold != k], categorical_feature=categorical,
                            free_raw_data=False)
        model = lgb.train(_PARAMS, train, num_boost_round=_ROUNDS)
        p[fold == k] = model.predict(x[fold == k])
    p = np.clip(p, 1e-3, 1 - 1e-3)
    auc = realized_auc(p, y == 1)
    weights = p[: len(holdout)] / (1 - p[: len(holdout)]) * len(holdout) / len(window)
    share = float(weights.sum() ** 2 / (weights**2).sum() / len(holdout))
    inside = share >= min_effective_share
    verdict = "within" if inside else "outside"
    reason = (f"{verdict} the holdout's region: domain classifier AUC {auc:.2f}, "
              f"effective share of held-out rows {share:.2f} "
              f"({'>=' if inside else '<'} {min_effective_share:.2f})")
    return RegionCheck(inside, auc, share, reason)


def _subsample(x: np.ndarray, rows: int, rng: np.random.Generator) -> np.ndarray:
    return x if len(x) <= rows else x[np.sort(rng.choice(len(x), rows, replace=False))]
