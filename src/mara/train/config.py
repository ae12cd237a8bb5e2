"""TrainConfig: every setting of a training run, logged as MLflow parameters."""

from __future__ import annotations

from dataclasses import dataclass

from mara.drift import DEFAULT_ALPHA

__all__ = ["TrainConfig"]


@dataclass(frozen=True)
class TrainConfig:
    """Training settings; every field is logged as an MLflow parameter."""

    seed: int = 0
    holdout: float = 0.2
    valid: float = 0.15
    learning_rate: float = 0.05
    num_leaves: int = 31
    min_data_in_leaf: int = 20
    feature_fraction: float = 0.9
    bagging_fraction: float = 0.8
    max_rounds: int = 2000
    early_stopping: int = 50
    threads: int = 2
    compile: bool = False
    # Share of cells masked in an extra copy of the fit rows (benchmarks/dirty: 0.2 best).
    missing_augment: float = 0.2
    drift_alpha: float = DEFAULT_ALPHA
