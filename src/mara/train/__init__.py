"""Training: from a problem's raw table to a registered, possibly promoted, model version."""

from mara.train.config import TrainConfig
from mara.train.trainer import TrainResult, train_problem

__all__ = ["TrainConfig", "TrainResult", "train_problem"]
