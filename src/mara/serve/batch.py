"""Batch: the one place a request body becomes columns by name, or a RequestError."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from mara.errors import BatchTooLarge, RequestError

__all__ = ["Batch", "InvalidBatch", "parse_batch", "DEFAULT_MAX_ROWS"]

DEFAULT_MAX_ROWS = 100_000


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
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise RequestError(f"body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidBatch(f"body must be a JSON object, got {_json_type(data)}")
    for key in ("id", "columns", "rows"):
        if key not in data:
            raise InvalidBatch(f"'{key}' is missing")
    batch_id, names, rows = data["id"], data["columns"], data["rows"]
    if not isinstance(batch_id, str | int) or isinstance(batch_id, bool):
        raise InvalidBatch(f"'id' must be a string or an integer, got {_json_type(batch_id)}")
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
    for i, row in enumerate(rows):
        if type(row) is not list:
            raise InvalidBatch(f"row {i} must be a list of values, got {_json_type(row)}")
        if len(row) != width:
            raise InvalidBatch(f"row {i} has {len(row)} values for {width} columns")
    columns = dict(zip(names, zip(*rows, strict=True), strict=True)) if rows else {}
    return Batch(batch_id, columns, names, rows)


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
