"""Cell cleaning: whatever arrives in a cell becomes a number, a category or missing.

One implementation serves training and serving. Clean columns take a vectorized fast
path; only a column that holds something unusual is cleaned cell by cell.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np

__all__ = ["MISSING_TOKENS", "clean_numeric", "category_key", "to_number"]

# Written forms of "no value" seen in hand-made and exported tables.
MISSING_TOKENS = frozenset(
    {"", "nan", "null", "none", "n/a", "na", "nat", "?", "-", "--", "missing", "undefined"}
)
_CURRENCY = "$€£¥₹"
_NUMBER_SHAPE = re.compile(r"[+-]?[\d.]")


def to_number(value: object) -> float:
    """One cell as a float: numbers, numeric text and booleans; NaN for anything else."""
    if value is None:
        return math.nan
    if isinstance(value, bool | np.bool_):
        return float(value)
    if isinstance(value, int | float | np.integer | np.floating):
        number = float(value) if abs(value) < 1e308 else math.nan
        return number if math.isfinite(number) else math.nan
    if not isinstance(value, str):
        return math.nan
    text = value.strip()
    if text.lower() in MISSING_TOKENS:
        return math.nan
    text = text.lstrip(_CURRENCY).removesuffix("%").replace(",", "").strip()
    if not _NUMBER_SHAPE.match(text):
        return math.nan
    try:
        number = float(text)
    except ValueError:
        return math.nan
    return number if math.isfinite(number) else math.nan


def clean_numeric(values: Sequence[object] | np.ndarray) -> tuple[np.ndarray, int, int]:
    """A column as float64 with NaN for missing.

    Returns (numbers, coerced, invalid): `coerced` counts cells that were not plain
    numbers or nulls but became numbers (text, booleans); `invalid` counts cells that held
    something but became missing (free text, lists, infinities).
    """
    if isinstance(values, np.ndarray) and values.dtype.kind in "iuf":
        numbers = values.astype(np.float64, copy=True)
        bad = np.isinf(numbers)
        if bad.any():
            numbers[bad] = np.nan
        return numbers, 0, int(bad.sum())
    probe = _as_flat_array(values)
    if probe is not None and probe.dtype.kind in "iuf":
        return clean_numeric(probe)
    if probe is not None and probe.dtype.kind == "b":
        return probe.astype(np.float64), len(probe), 0
    try:
        # numpy's own float() loop takes numbers, nulls, booleans and plain numeric text.
        numbers = np.array(values, dtype=np.float64)
    except (ValueError, TypeError, OverflowError):
        return _clean_cell_by_cell(values)
    if numbers.ndim != 1:
        return _clean_cell_by_cell(values)
    infinite = np.isinf(numbers)
    numbers[infinite] = np.nan
    # Which cells were text or booleans: asked of the types first, at C speed, since a column
    # of numbers and nulls (the usual reason to be here) has none.
    if _TEXTY.isdisjoint(map(type, values)):
        return numbers, 0, int(infinite.sum())
    texty = np.fromiter((type(v) in _TEXTY for v in values), dtype=bool, count=len(values))
    return numbers, int((texty & ~np.isnan(numbers)).sum()), int(infinite.sum())


_TEXTY = frozenset({str, bool})


def _clean_cell_by_cell(values: Sequence[object]) -> tuple[np.ndarray, int, int]:
    numbers = np.fromiter((to_number(v) for v in values), dtype=np.float64, count=len(values))
    coerced = invalid = 0
    for value, number in zip(values, numbers, strict=True):
        if value is None or (type(value) in (int, float) and not math.isnan(number)):
            continue
        if math.isnan(number):
            invalid += not _is_missing_marker(value)
        else:
            coerced += 1
    return numbers, coerced, invalid


def _as_flat_array(values: Sequence[object] | np.ndarray) -> np.ndarray | None:
    """The column as a 1-d array when numpy can type it at C speed, else None."""
    if isinstance(values, np.ndarray):
        return values if values.ndim == 1 else None
    try:
        array = np.asarray(values)
    except (ValueError, TypeError, OverflowError):
        return None
    return array if array.ndim == 1 else None


def _is_missing_marker(value: object) -> bool:
    if isinstance(value, float):
        return math.isnan(value)
    return isinstance(value, str) and value.strip().lower() in MISSING_TOKENS


def category_key(value: object) -> str | None:
    """The canonical text of a category, or None for missing.

    The number 3, the text "3" and "3.0" are one category; surrounding whitespace is
    ignored; booleans are 1 and 0, so True and 1 agree as they do in Python.
    """
    if value is None:
        return None
    if isinstance(value, bool | np.bool_):
        return "1" if value else "0"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return _number_key(float(value))
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in MISSING_TOKENS:
            return None
        if _NUMBER_SHAPE.match(text):
            try:
                return _number_key(float(text))
            except ValueError:
                pass
        return text
    return None


def _number_key(number: float) -> str | None:
    if not math.isfinite(number):
        return None
    if number.is_integer() and abs(number) < 2**63:
        return str(int(number))
    return repr(number)
