"""BlendForest: a weighted mean of the probabilities of other forests."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["BlendForest"]


class BlendForest:
    """`parts` (forests) with `weights` (non-negative, summing to one)."""

    learner = "blend"

    def __init__(self, parts: Sequence[object], weights: Sequence[float]):
        self.parts = list(parts)
        self.weights = [float(w) for w in weights]

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        """The weighted mean of the parts' probabilities (each part's served form if
        attached)."""
        total = self.weights[0] * self.parts[0].predict(matrix)
        for part, weight in zip(self.parts[1:], self.weights[1:], strict=True):
            total += weight * part.predict(matrix)
        return total

    @property
    def trees(self) -> int:
        """Every part's trees: a row goes through all of them."""
        return sum(part.trees for part in self.parts)

    def importance(self) -> np.ndarray:
        """Each part's importance as shares of its total, weighted as the blend is."""
        total = np.zeros(len(self.parts[0].importance()))
        for part, weight in zip(self.parts, self.weights, strict=True):
            scores = part.importance()
            if scores.sum() > 0:
                total += weight * scores / scores.sum()
        return total

    @property
    def at_full_speed(self) -> bool:
        """Whether every part predicts with its served form."""
        return all(part.at_full_speed for part in self.parts)

    def is_fast_cached(self, cache_dir: Path) -> bool:
        """Whether every part's served form is in `cache_dir` (or needs none)."""
        return all(part.is_fast_cached(cache_dir) for part in self.parts)

    def make_fast(self, cache_dir: Path, probe: np.ndarray) -> bool:
        """Every part's served form; at full speed only if all of them attached."""
        return all([part.make_fast(cache_dir, probe) for part in self.parts])
