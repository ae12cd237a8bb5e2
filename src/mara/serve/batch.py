"""Batch: the one place a request body becomes columns by name, or a RequestError."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import orjson

from mara.errors import BatchTooLarge, RequestError
from mara.serve.options import ServeOptions

__all__ = ["Batch", "InvalidBatch", "load_json", "parse_batch", "DEFAULT_MAX_ROWS"]

DEFAULT_MAX_ROWS = ServeOptions.max_rows
_ID_MIN, _ID_MAX = -(2**63), 2**64 - 1  # what JSON encoders and orjson carry exactly


class InvalidBatch(RequestError):
    """The body is JSON but not a batch: a field is missing or of the wrong type."""

    status_code = 422


@dataclass(frozen=True)
class Batch:
    """A parsed request: its id, its columns by name, and its row count."""

    id: Any
    columns: dict[str, tuple[Any, ...]]
    names: list[str]
    rows: list[list[Any]]

    @property
    def n_rows(self) -> int:
        """How many rows were sent."""
        return len(self.rows)


def parse_batch(body: bytes, *, max_rows: int = DEFAULT_MAX_ROWS) -> Batch:
    """Parse and check a request body `{"id", "columns", "rows"}`."""
    data = load_json(body)
    if not isinstance(data, dict):
        raise InvalidBatch(f"body must be a JSON object, got {_json_type(data)}")
    for key in ("id", "columns", "rows"):
        if key not in data:
            raise InvalidBatch(f"'{key}' is missing")
    batch_id, names, rows = data["id"], data["columns"], data["rows"]
    if (
        not isinstance(batch_id, str | int)
        or isinstance(batch_id, bool)
        or isinstance(batch_id, int)
        and not _ID_MIN <= batch_id <= _ID_MAX
    ):
        raise InvalidBatch(
            f"'id' must be a string or an integer of at most 64 bits, got {_json_type(batch_id)}"
        )
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise InvalidBatch("'columns' must be a list of column names (strings)")
    if len(set(names)) != len(names):
        seen: set[str] = set()
        twice = sorted({n for n in names if n in seen or seen.add(n)})
        raise InvalidBatch(f"'columns' names {twice[:5]} more than once")
    if not isinstance(rows, list):
        raise InvalidBatch(f"'rows' must be a list of rows, got {_json_type(rows)}")
    if len(rows) > max_rows:
        raise BatchTooLarge(f"{len(rows)} rows sent; this server takes at most {max_rows}")
    width = len(names)
    # Asked of all rows at C speed first; only a batch that fails is walked to name its row.
    if not (set(map(type, rows)) <= {list} and set(map(len, rows)) <= {width}):
        for i, row in enumerate(rows):
            if type(row) is not list:
                raise InvalidBatch(f"row {i} must be a list of values, got {_json_type(row)}")
            if len(row) != width:
                raise InvalidBatch(f"row {i} has {len(row)} values for {width} columns")
    columns = dict(zip(names, zip(*rows, strict=True), strict=True)) if rows else {}
    return Batch(batch_id, columns, names, rows)


def load_json(body: bytes) -> Any:
    """Strict JSON at orjson's speed; else what Python's json.dumps writes.

    Python clients write a pandas NaN as `NaN` and a huge number as is: those become
    missing values (None, or an infinity that cleaning turns into missing), not a 400.
    """
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        strict_error = exc
    try:
        data = json.loads(body.decode("utf-8"), parse_constant=lambda _: None, parse_int=_parse_int)
        orjson.dumps(data)  # what cannot be written back (a lone surrogate) cannot be served
    except (UnicodeDecodeError, ValueError, RecursionError, TypeError, OverflowError):
        raise RequestError(f"body is not valid JSON: {strict_error}") from None
    return data


def _parse_int(text: str) -> int | float:
    # As orjson reads it: an integer past 64 bits is a float (inf when past float range).
    number = int(text)
    return number if _ID_MIN <= number <= _ID_MAX else float(text)


def _json_type(value: Any) -> str:
    names = {
        dict: "an object",
        list: "an array",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "null",
    }
    return names.get(type(value), type(value).__name__)
