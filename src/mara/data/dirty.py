"""Dirtying: the uncleaned traffic of the competition's later stages, made on purpose.

Used by tests and benchmarks to check that cleaning and training hold the score when cells
arrive missing or badly formatted.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mara.spec import ProblemSpec

__all__ = ["DIRTY_KINDS", "dirty_rows", "frame_rows"]

# What a dirtied cell becomes; "lossless" kinds still read back as the same value.
DIRTY_KINDS = {
    "null": "lossy",
    "empty": "lossy",
    "nan_text": "lossy",
    "na_text": "lossy",
    "question": "lossy",
    "free_text": "lossy",
    "spaces": "lossless",
    "thousands": "lossless",
    "currency": "lossless",
    "text_number": "lossless",
}


def frame_rows(frame: pd.DataFrame, columns: list[str]) -> list[list[Any]]:
    """A frame's cells as JSON-native rows, NaN as None."""
    values = frame[columns].astype(object)
    return values.where(values.notna(), None).to_numpy().tolist()


def dirty_rows(
    rows: list[list[Any]], columns: list[str], spec: ProblemSpec, *, fraction: float, seed: int
) -> list[list[Any]]:
    """A copy of `rows` with `fraction` of the feature cells dirtied, kinds mixed evenly."""
    rng = np.random.default_rng(seed)
    numeric = set(spec.numeric)
    kinds = list(DIRTY_KINDS)
    out = [list(row) for row in rows]
    features = [j for j, c in enumerate(columns) if c in numeric or c in spec.categorical]
    for i, row in enumerate(out):
        for j in features:
            if rng.random() < fraction:
                kind = kinds[rng.integers(len(kinds))]
                row[j] = _dirty(row[j], kind, is_numeric=columns[j] in numeric)
        out[i] = row
    return out


def _dirty(value: Any, kind: str, *, is_numeric: bool) -> Any:
    lossy = {
        "null": None,
        "empty": "",
        "nan_text": "NaN",
        "na_text": "n/a",
        "question": "?",
        "free_text": "not recorded",
    }
    if kind in lossy or value is None:
        return lossy.get(kind)
    if kind == "spaces":
        return f"  {value} "
    if not is_numeric or isinstance(value, bool):
        return str(value)
    if kind == "thousands":
        return f"{value:,}"
    if kind == "currency":
        return f"${value}"
    return repr(value)
