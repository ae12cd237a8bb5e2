"""Reading a problem's training table and splitting it the same way every time."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from mara.errors import DataError
from mara.labels import label_values
from mara.spec import TRAIN_NAME, ProblemSpec, problem_dir

__all__ = ["TrainingTable", "load_training_table", "read_training_table"]


def read_training_table(home: Path, spec: ProblemSpec) -> pd.DataFrame:
    """The raw training table of a problem."""
    path = problem_dir(home, spec.phase, spec.prob) / TRAIN_NAME
    try:
        frame = pd.read_parquet(path)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except Exception as exc:  # pyarrow raises many types for a damaged file
        raise DataError(f"{path}: not a readable parquet file ({exc})") from exc
    if spec.target not in frame.columns:
        raise DataError(f"{path}: target column {spec.target!r} is not in the table")
    absent = [c for c in spec.features if c not in frame.columns]
    if len(absent) == len(spec.features):
        raise DataError(f"{path}: none of the configured feature columns is in the table")
    return frame


@dataclass(frozen=True)
class TrainingTable:
    """A problem's labelled rows, its classes, and the split every run of it shares.

    `holdout` rows are never trained on by `mara train` or `mara improve`: they are where a
    new model and the champion are compared.
    """

    frame: pd.DataFrame
    labels: pd.Series
    classes: list[Any]
    train: np.ndarray
    holdout: np.ndarray

    @property
    def train_frame(self) -> pd.DataFrame:
        """The rows a model may learn from."""
        return self.frame.iloc[self.train]

    @property
    def holdout_frame(self) -> pd.DataFrame:
        """The rows models are compared on."""
        return self.frame.iloc[self.holdout]


def load_training_table(
    home: Path, spec: ProblemSpec, *, holdout: float, seed: int
) -> TrainingTable:
    """Read the table, drop rows without a label, and split off the stratified holdout."""
    frame = read_training_table(home, spec)
    labels, classes = label_values(frame[spec.target])
    if len(classes) < 2:
        raise DataError(f"{spec.name}: the target has {len(classes)} class(es); need two or more")
    frame = frame.loc[labels.index].reset_index(drop=True)
    labels = labels.reset_index(drop=True)
    index = np.arange(len(labels))
    codes = labels.map({c: i for i, c in enumerate(classes)}).to_numpy()
    stratify = codes if np.unique(codes, return_counts=True)[1].min() >= 4 else None
    train, held = train_test_split(index, test_size=holdout, random_state=seed, stratify=stratify)
    return TrainingTable(frame, labels, classes, np.sort(train), np.sort(held))
