"""Preprocessor: the one object that turns raw columns into the model's matrix.

Fitted in training, saved inside the model version, and used as is by the server, so
training and serving can never disagree about how a cell is read.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import repeat

import numpy as np
import pandas as pd

from mara.clean import category_key, clean_numeric
from mara.errors import NotFittedError
from mara.spec import ProblemSpec

__all__ = ["DataQuality", "Preprocessor"]

_MEMO_LIMIT = 50_000
# Not a code (codes are 0..K and NaN): marks a value the lookup has not met yet.
_FIRST_SIGHTING = -1.0


@dataclass(frozen=True)
class DataQuality:
    """How dirty one batch was, cell by cell."""

    rows: int
    cells: int
    cells_missing: int
    cells_coerced: int
    cells_invalid: int
    unseen_categories: int
    columns_absent: int

    def as_dict(self) -> dict[str, int]:
        """JSON-native figures."""
        return {
            "rows": self.rows,
            "cells": self.cells,
            "cells_missing": self.cells_missing,
            "cells_coerced": self.cells_coerced,
            "cells_invalid": self.cells_invalid,
            "unseen_categories": self.unseen_categories,
            "columns_absent": self.columns_absent,
        }


class Preprocessor:
    """Cleans and encodes a problem's features into a float64 matrix.

    Numeric columns become floats with NaN for missing. A categorical column with K
    categories seen in training becomes codes 0..K-1, K for a category never seen in
    training, and NaN for missing. Columns are taken by name, so their order in the input
    does not matter; an absent column is all missing.
    """

    def __init__(self, spec: ProblemSpec, *, max_categories: int = 10_000):
        self.spec = spec
        self.max_categories = max_categories

    @property
    def feature_names(self) -> tuple[str, ...]:
        """The matrix's columns, in order."""
        return self.spec.features

    @property
    def categorical_mask(self) -> list[bool]:
        """For each matrix column, whether it holds category codes."""
        return [False] * len(self.spec.numeric) + [True] * len(self.spec.categorical)

    def fit(self, frame: pd.DataFrame) -> Preprocessor:
        """Learn each categorical column's categories, most frequent first."""
        self.categories_: dict[str, list[str]] = {}
        for column in self.spec.categorical:
            counts: Counter[str] = Counter()
            if column in frame.columns:
                counts.update(k for k in map(category_key, frame[column].tolist()) if k)
            self.categories_[column] = [k for k, _ in counts.most_common(self.max_categories)]
        self._build_lookups()
        return self

    @property
    def n_categories(self) -> list[int]:
        """K for each categorical column, in matrix order."""
        self._check_fitted()
        return [len(self.categories_[c]) for c in self.spec.categorical]

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """A DataFrame's features as the model's matrix."""
        numeric = {c: frame[c].to_numpy() for c in self.spec.numeric if c in frame.columns}
        # Python scalars, so a category reads the same from a table as from a JSON request.
        categorical = {c: frame[c].tolist() for c in self.spec.categorical if c in frame.columns}
        columns = numeric | categorical
        matrix, _ = self.transform_columns(columns, len(frame))
        return matrix

    def transform_columns(
        self, columns: Mapping[str, Sequence[object] | np.ndarray], n_rows: int
    ) -> tuple[np.ndarray, DataQuality]:
        """Raw columns by name as the model's matrix, with the batch's data quality."""
        self._check_fitted()
        matrix = np.full((n_rows, len(self.feature_names)), np.nan)
        coerced = invalid = unseen = absent = 0
        for j, column in enumerate(self.spec.numeric):
            if column not in columns:
                absent += 1
                continue
            matrix[:, j], col_coerced, col_invalid = clean_numeric(columns[column])
            coerced += col_coerced
            invalid += col_invalid
        offset = len(self.spec.numeric)
        for j, column in enumerate(self.spec.categorical, start=offset):
            if column not in columns:
                absent += 1
                continue
            matrix[:, j], col_unseen = self._encode(column, columns[column])
            unseen += col_unseen
        quality = DataQuality(
            rows=n_rows,
            cells=matrix.size,
            cells_missing=int(np.isnan(matrix).sum()),
            cells_coerced=coerced,
            cells_invalid=invalid,
            unseen_categories=unseen,
            columns_absent=absent,
        )
        return matrix, quality

    def _encode(self, column: str, values: Sequence[object] | np.ndarray) -> tuple[np.ndarray, int]:
        lookup = self._lookups[column]
        unseen_code = float(len(self.categories_[column]))
        try:
            # Values met before (the usual case) are looked up at C speed; the rest below.
            known = map(lookup.get, values, repeat(_FIRST_SIGHTING))
            codes = np.fromiter(known, dtype=np.float64, count=len(values))
        except TypeError:  # an unhashable cell (a list, an object)
            codes = np.fromiter(
                (self._code_of(column, v, unseen_code) for v in values),
                dtype=np.float64,
                count=len(values),
            )
        else:
            for i in np.flatnonzero(codes == _FIRST_SIGHTING).tolist():
                codes[i] = self._code_of(column, values[i], unseen_code)
        return codes, int((codes == unseen_code).sum())

    def _code_of(self, column: str, value: object, unseen_code: float) -> float:
        # A first sighting of a raw value: find its category, and remember the answer
        # for hashable values so the next batch takes the dict path.
        with contextlib.suppress(TypeError):
            if value in self._lookups[column]:
                return self._lookups[column][value]
        key = category_key(value)
        code = np.nan if key is None else self._index[column].get(key, unseen_code)
        lookup = self._lookups[column]
        if len(lookup) < _MEMO_LIMIT:
            with contextlib.suppress(TypeError):
                lookup[value] = code
        return code

    def _build_lookups(self) -> None:
        self._index = {
            c: {k: float(i) for i, k in enumerate(cats)} for c, cats in self.categories_.items()
        }
        self._lookups = {c: dict(index) for c, index in self._index.items()}
        for lookup in self._lookups.values():
            lookup[None] = np.nan

    def _check_fitted(self) -> None:
        if not hasattr(self, "categories_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit() first")

    def __getstate__(self) -> dict:
        # The lookups are a cache of categories_; rebuilt on load, they never go stale.
        state = self.__dict__.copy()
        state.pop("_lookups", None)
        state.pop("_index", None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if hasattr(self, "categories_"):
            self._build_lookups()
