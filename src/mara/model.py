"""ModelBundle: everything one model version needs to serve, saved as one artifact."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mara.compiled import probe_matrix
from mara.drift import DriftDetector
from mara.forests import Forest, LightGBMForest
from mara.preprocess import DataQuality, Preprocessor
from mara.spec import ProblemSpec

__all__ = ["ModelBundle"]


@dataclass
class ModelBundle:
    """A fitted Preprocessor, forest (any learner), label mapping and drift reference.

    `classes` are the original labels in sorted order, as Python scalars; for a binary
    problem the forest's positive class is `positive_class(classes)`.
    """

    spec: ProblemSpec
    preprocessor: Preprocessor
    forest: Forest
    classes: list[Any]
    drift: DriftDetector | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    # How the forest was chosen: its learner, parameters, rounds and cross-validated score.
    recipe: dict[str, Any] = field(default_factory=dict)

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
        """The forest's probabilities: its served form's once attached."""
        return self.forest.predict(matrix)

    @property
    def learner(self) -> str:
        """Which learner the forest is ("lightgbm", "catboost", "blend")."""
        return self.forest.learner

    @property
    def at_full_speed(self) -> bool:
        """Whether predictions come from the forest's fastest served form."""
        return self.forest.at_full_speed

    def is_fast_cached(self, cache_dir: Path) -> bool:
        """Whether `make_fast` would only load its served form from `cache_dir`."""
        return self.forest.is_fast_cached(cache_dir)

    def make_fast(self, cache_dir: Path) -> bool:
        """Attach the forest's served form (compiled or loaded from `cache_dir`) if it agrees
        with the fitted forest on probe rows; whether it is at full speed now."""
        mask = self.preprocessor.categorical_mask
        counts = iter(self.preprocessor.n_categories)
        probe = probe_matrix([next(counts) if is_cat else None for is_cat in mask])
        return self.forest.make_fast(cache_dir, probe)

    def __setstate__(self, state: dict) -> None:
        # Versions registered before forests had a learner hold a bare LightGBM booster.
        if "booster" in state:
            state["forest"] = LightGBMForest(state.pop("booster"))
            state.pop("compiled", None)
        self.__dict__.update(state)

    def prepare(
        self, columns: Mapping[str, Sequence[object] | np.ndarray], n_rows: int
    ) -> tuple[np.ndarray, DataQuality]:
        """Raw columns by name as the model's matrix, with their data quality."""
        return self.preprocessor.transform_columns(columns, n_rows)

    def predict_frame(self, frame: pd.DataFrame) -> list[Any]:
        """Predictions for a DataFrame of raw features (any column order)."""
        return self.predict_matrix(self.preprocessor.transform(frame))
