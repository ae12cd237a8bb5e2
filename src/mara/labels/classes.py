"""What a label is: how a cell becomes one, and which class a binary probability is about."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from mara.clean import category_key
from mara.errors import DataError
from mara.spec import TRAIN_NAME, ProblemSpec, problem_dir

__all__ = [
    "ClassMatcher",
    "label_values",
    "normalize_label",
    "positive_class",
    "training_classes",
]


def positive_class(classes: Sequence[Any]) -> Any:
    """The label whose probability a binary model reports: 1, else the greater label."""
    return 1 if 1 in classes else sorted(classes)[-1]


def normalize_label(value: Any) -> Any:
    """A label as a Python scalar, or None for a missing one.

    Text stays text (stripped) and numbers stay numbers, whole floats becoming ints (a label
    column with gaps is stored as float), so predictions keep the training type.
    """
    if isinstance(value, str):
        return value.strip() or None
    key = category_key(value)
    if key is None:
        return None
    number = float(key)
    return int(number) if number.is_integer() else number


def label_values(target: pd.Series) -> tuple[pd.Series, list[Any]]:
    """Labels as Python scalars with rows of missing label dropped, and the sorted classes."""
    keys = target.map(normalize_label)
    keys = keys[keys.notna()]
    classes = sorted(set(keys.tolist()), key=lambda v: (isinstance(v, str), v))
    return keys, classes


def training_classes(home: Path, spec: ProblemSpec) -> list[Any]:
    """The classes of a problem's training target: the labels a late label may name."""
    path = problem_dir(home, spec.phase, spec.prob) / TRAIN_NAME
    try:
        target = pd.read_parquet(path, columns=[spec.target])[spec.target]
    except Exception as exc:  # pyarrow raises many types for a missing column or a bad file
        raise DataError(f"{path}: cannot read the target column {spec.target!r} ({exc})") from exc
    return label_values(target)[1]


class ClassMatcher:
    """Finds the training class a late label names, however it was written.

    A label file read as text says "1" where training had 1, and JSON may say 1.0: each
    names the class whose text is the same.
    """

    def __init__(self, classes: Sequence[Any]):
        self.classes = list(classes)
        self._by_text = {str(c): c for c in self.classes}

    def match(self, value: Any) -> tuple[bool, Any]:
        """(True, class) for a known class, (True, None) for a missing label, else (False, None)."""
        if isinstance(value, dict | list):  # a JSON object or array is never a class
            return False, None
        label = normalize_label(value)
        if label is None:
            return True, None
        text = str(label)
        return (True, self._by_text[text]) if text in self._by_text else (False, None)
