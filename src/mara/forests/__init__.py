"""Forests: the fitted learners a ModelBundle can hold, behind one interface.

Every learner takes the Preprocessor's matrix (numbers as float64, categories as float
codes, NaN for missing, code K for an unseen level of a K-level column) and gives
probabilities. Each has a served form, the fastest way it predicts: a compiled twin for
LightGBM, CatBoost's own evaluator for CatBoost. `make_fast` builds (or loads from a
content-keyed cache) that form and attaches it only if it agrees with the fitted learner;
until then `predict` answers with the learner's own, slower path.

    Forest (protocol)
    ├── LightGBMForest   lightgbm.Booster; served form: lleaves-compiled native code
    ├── CatBoostForest   catboost model; served form: itself (its evaluator is native code)
    └── BlendForest      a weighted mean of the probabilities of other forests
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from mara.forests.blend import BlendForest
from mara.forests.catboost import CatBoostForest
from mara.forests.lightgbm import LightGBMForest

__all__ = ["BlendForest", "CatBoostForest", "Forest", "LightGBMForest"]


@runtime_checkable
class Forest(Protocol):
    """A fitted learner over the Preprocessor's matrix."""

    # "lightgbm", "catboost", "blend": logged with the model and shown by /health.
    learner: str

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        """Probabilities: of the positive class, shape (n,), for a binary problem; of every
        class, shape (n, k), for a multiclass one. The served form's once attached."""
        ...

    @property
    def trees(self) -> int:
        """Trees evaluated per row (every class's, every part's): what a row costs."""
        ...

    def importance(self) -> np.ndarray:
        """Importance of each matrix column (any non-negative scale), for monitoring."""
        ...

    @property
    def at_full_speed(self) -> bool:
        """Whether `predict` uses the served form."""
        ...

    def is_fast_cached(self, cache_dir: Path) -> bool:
        """Whether `make_fast` would only load from `cache_dir` (milliseconds, no compile)."""
        ...

    def make_fast(self, cache_dir: Path, probe: np.ndarray) -> bool:
        """Build or load the served form; attach it if it agrees on `probe` rows.

        Returns `at_full_speed`. Never changes what `predict` returns beyond float rounding.
        """
        ...
