"""ModelBundle: everything one model version needs to serve, saved as one artifact."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from mara.compiled import AGREEMENT_TOLERANCE, CompiledForest, compile_forest, probe_matrix
from mara.drift import DriftDetector
from mara.preprocess import DataQuality, Preprocessor
from mara.spec import ProblemSpec

__all__ = ["ModelBundle"]

# Below this many rows LightGBM's thread start-up costs more than the second core gives.
_THREADED_ROWS = 1000


@dataclass
class ModelBundle:
    """A fitted Preprocessor, LightGBM booster, label mapping and drift reference.

    `classes` are the original labels in sorted order, as Python scalars; for a binary
    problem the booster's positive class is `positive_class(classes)`.
    """

    spec: ProblemSpec
    preprocessor: Preprocessor
    booster: lgb.Booster
    classes: list[Any]
    drift: DriftDetector | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    # How the forest was chosen: its parameters, rounds and cross-validated score.
    recipe: dict[str, Any] = field(default_factory=dict)
    compiled: CompiledForest | None = field(default=None, repr=False, compare=False)

    @property
    def is_binary(self) -> bool:
        """Two labels: predictions are probabilities of the positive class."""
        return len(self.classes) == 2

    def predict_matrix(self, matrix: np.ndarray) -> list[Any]:
        """One prediction per row: a probability (binary) or a label (multiclass)."""
        raw = self.raw_predict(matrix)
        if self.is_binary:
            return raw.tolist()
        return [self.classes[i] for i in raw.argmax(axis=1).tolist()]

    def raw_predict(self, matrix: np.ndarray) -> np.ndarray:
        """The forest's output: the compiled twin's when attached, else LightGBM's."""
        if self.compiled is not None:
            return self.compiled.predict(matrix)
        threads = min(2, os.cpu_count() or 1) if len(matrix) >= _THREADED_ROWS else 1
        return self.booster.predict(matrix, num_threads=threads)

    def compile(self, cache_dir: Path) -> bool:
        """Attach the compiled twin of the booster if it agrees with LightGBM on probe rows."""
        forest = compile_forest(self.booster, cache_dir)
        mask = self.preprocessor.categorical_mask
        counts = iter(self.preprocessor.n_categories)
        probe = probe_matrix([next(counts) if is_cat else None for is_cat in mask])
        expected = self.booster.predict(probe, num_threads=1)
        if np.max(np.abs(forest.predict(probe) - expected)) > AGREEMENT_TOLERANCE:
            return False
        self.compiled = forest
        return True

    def __getstate__(self) -> dict:
        # Native code belongs to one machine; it is rebuilt (or read from cache) on load.
        return {**self.__dict__, "compiled": None}

    def prepare(
        self, columns: Mapping[str, Sequence[object] | np.ndarray], n_rows: int
    ) -> tuple[np.ndarray, DataQuality]:
        """Raw columns by name as the model's matrix, with their data quality."""
        return self.preprocessor.transform_columns(columns, n_rows)

    def predict_frame(self, frame: pd.DataFrame) -> list[Any]:
        """Predictions for a DataFrame of raw features (any column order)."""
        return self.predict_matrix(self.preprocessor.transform(frame))
