"""Reading a problem's training table and splitting it the same way every time."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from mara.clean import category_key
from mara.errors import DataError
from mara.spec import TRAIN_NAME, ProblemSpec, problem_dir

__all__ = ["Splits", "read_training_table", "split", "label_values"]


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


def label_values(target: pd.Series) -> tuple[pd.Series, list[Any]]:
    """Labels as Python scalars with rows of missing label dropped, and the sorted classes.

    Text labels stay text and numeric labels stay numbers (whole floats become ints, as
    a label column with gaps is stored as float), so predictions have the training type.
    """
    keys = target.map(_label_of)
    keys = keys[keys.notna()]
    classes = sorted(set(keys.tolist()), key=lambda v: (isinstance(v, str), v))
    return keys, classes


def _label_of(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip() or None
    key = category_key(value)
    if key is None:
        return None
    number = float(key)
    return int(number) if number.is_integer() else number


@dataclass(frozen=True)
class Splits:
    """Row positions of the fit, early-stopping and holdout parts."""

    fit: np.ndarray
    valid: np.ndarray
    holdout: np.ndarray


def split(y: np.ndarray, *, holdout: float, valid: float, seed: int) -> Splits:
    """Stratified holdout, then a stratified early-stopping part from the rest."""
    index = np.arange(len(y))
    stratify = y if np.unique(y, return_counts=True)[1].min() >= 4 else None
    rest, held = train_test_split(index, test_size=holdout, random_state=seed, stratify=stratify)
    stratify = y[rest] if stratify is not None else None
    fit, val = train_test_split(rest, test_size=valid, random_state=seed, stratify=stratify)
    return Splits(np.sort(fit), np.sort(val), np.sort(held))
