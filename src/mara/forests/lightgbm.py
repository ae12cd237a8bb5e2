"""LightGBMForest: a LightGBM booster, served by its lleaves-compiled twin once attached."""

from __future__ import annotations

import os
from pathlib import Path

import lightgbm as lgb
import numpy as np

from mara.compiled import AGREEMENT_TOLERANCE, CompiledForest, compile_forest, is_cached

__all__ = ["LightGBMForest"]

# Below this many rows LightGBM's thread start-up costs more than the second core gives.
_THREADED_ROWS = 1000


class LightGBMForest:
    """A fitted `lightgbm.Booster`; `compiled` is its native twin once `make_fast` ran."""

    learner = "lightgbm"

    def __init__(self, booster: lgb.Booster):
        self.booster = booster
        self.compiled: CompiledForest | None = None

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        """The compiled twin's output when attached, else LightGBM's."""
        if self.compiled is not None:
            return self.compiled.predict(matrix)
        return self.interpret(matrix)

    def interpret(self, matrix: np.ndarray) -> np.ndarray:
        """LightGBM's own predictor (the reference the compiled twin must agree with)."""
        threads = min(2, os.cpu_count() or 1) if len(matrix) >= _THREADED_ROWS else 1
        return self.booster.predict(matrix, num_threads=threads)

    @property
    def trees(self) -> int:
        """Trees in the booster (rounds times classes for a multiclass problem)."""
        return int(self.booster.num_trees())

    def importance(self) -> np.ndarray:
        """Total gain of each column's splits."""
        return np.asarray(self.booster.feature_importance(importance_type="gain"), dtype=float)

    @property
    def at_full_speed(self) -> bool:
        """Whether the compiled twin is attached."""
        return self.compiled is not None

    def is_fast_cached(self, cache_dir: Path) -> bool:
        """Whether the compiled twin is in `cache_dir` already."""
        return is_cached(self.booster, cache_dir)

    def make_fast(self, cache_dir: Path, probe: np.ndarray) -> bool:
        """Compile (or load) the twin; attach it if it agrees with LightGBM on `probe`."""
        if self.compiled is not None:
            return True
        forest = compile_forest(self.booster, cache_dir)
        expected = self.booster.predict(probe, num_threads=1)
        if np.max(np.abs(forest.predict(probe) - expected)) > AGREEMENT_TOLERANCE:
            return False
        self.compiled = forest
        return True

    def __getstate__(self) -> dict:
        # Native code belongs to one machine; it is rebuilt (or read from cache) on load.
        return {**self.__dict__, "compiled": None}
