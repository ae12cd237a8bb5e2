"""ModelBundle: everything one model version needs to serve, saved as one artifact."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from mara.preprocess import DataQuality, Preprocessor
from mara.spec import ProblemSpec

__all__ = ["ModelBundle"]


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
    drift: Any = None
    metrics: dict[str, float] = field(default_factory=dict)
    predict_threads: int = 1

    @property
    def is_binary(self) -> bool:
        """Two labels: predictions are probabilities of the positive class."""
        return len(self.classes) == 2

    def predict_matrix(self, matrix: np.ndarray) -> list[Any]:
        """One prediction per row: a probability (binary) or a label (multiclass)."""
        raw = self.booster.predict(matrix, num_threads=self.predict_threads)
        if self.is_binary:
            return raw.tolist()
        return [self.classes[i] for i in raw.argmax(axis=1).tolist()]

    def prepare(
        self, columns: Mapping[str, Sequence[object] | np.ndarray], n_rows: int
    ) -> tuple[np.ndarray, DataQuality]:
        """Raw columns by name as the model's matrix, with their data quality."""
        return self.preprocessor.transform_columns(columns, n_rows)

    def predict_frame(self, frame: pd.DataFrame) -> list[Any]:
        """Predictions for a DataFrame of raw features (any column order)."""
        return self.predict_matrix(self.preprocessor.transform(frame))
