"""Label files as they arrive: JSONL lines per request, or a table of (id, row, label).

This module only reads and checks shape, and raises only for a file it cannot read at all;
a bad line becomes an entry carrying its problem. Which labels are acceptable (the classes,
the number of rows of a captured batch) is decided in `mara.labels.ingest`, which lists
every problem at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pandas as pd

from mara.errors import LabelError

__all__ = ["LabelEntry", "entries_from_objects", "read_label_file"]

_TABLE_COLUMNS = ("id", "row", "label")


@dataclass(frozen=True)
class LabelEntry:
    """The labels one line (or table rows) give one request.

    `positional` entries list a label for every row of the request in order (JSONL), so
    their length must equal the batch's rows; others name each row (`rows`). A line that is
    not an entry at all carries its `problem`, so that the checks can list it with the rest.
    """

    where: str
    id: Any = None
    rows: tuple[int, ...] = ()
    labels: tuple[Any, ...] = ()
    positional: bool = True
    problem: str | None = None


def read_label_file(path: Path) -> list[LabelEntry]:
    """Every entry of a .jsonl, .csv or .parquet label file; LabelError if it is unreadable."""
    suffix = path.suffix.lower()
    try:
        if suffix in (".jsonl", ".json", ".ndjson"):
            return _read_jsonl(path)
        if suffix == ".csv":
            return _read_table(pd.read_csv(path, dtype=str, keep_default_na=False), path, 2)
        if suffix in (".parquet", ".pq"):
            return _read_table(pd.read_parquet(path), path, 1)
    except FileNotFoundError:
        raise LabelError(f"{path}: file not found") from None
    except (OSError, ValueError) as exc:  # pandas and pyarrow raise these for unreadable files
        raise LabelError(f"{path}: not a readable label file ({exc})") from exc
    raise LabelError(f"{path}: a label file is .jsonl, .csv or .parquet, not {suffix!r}")


def entries_from_objects(items: list[Any], *, where: str = "item") -> list[LabelEntry]:
    """Entries from parsed JSON objects (`{"id", "labels"}`), numbered from 1."""
    return [_entry_of(item, f"{where} {number}") for number, item in enumerate(items, start=1)]


def _read_jsonl(path: Path) -> list[LabelEntry]:
    entries = []
    for number, line in enumerate(path.read_bytes().split(b"\n"), start=1):
        if not line.strip():
            continue
        place = f"line {number}"
        try:
            item = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            entries.append(LabelEntry(place, problem=f"not JSON ({exc})"))
            continue
        entries.append(_entry_of(item, place))
    return entries


def _entry_of(item: Any, place: str) -> LabelEntry:
    if not isinstance(item, dict):
        return LabelEntry(place, problem="expected an object with 'id' and 'labels'")
    problem = _id_problem(item.get("id"))
    if problem:
        return LabelEntry(place, problem=problem)
    labels = item.get("labels")
    if not isinstance(labels, list):
        return LabelEntry(
            place, problem="'labels' must be a list, one label per row (null = unknown)"
        )
    return LabelEntry(place, item["id"], tuple(range(len(labels))), tuple(labels), True)


def _id_problem(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        return "'id' must be the request's id (a string or an integer)"
    return None


def _read_table(frame: pd.DataFrame, path: Path, first_line: int) -> list[LabelEntry]:
    missing = [c for c in _TABLE_COLUMNS if c not in frame.columns]
    if missing:
        raise LabelError(f"{path}: columns {missing} missing; a label table has id, row, label")
    unit = "line" if first_line == 2 else "row"
    grouped: dict[str, list[tuple[str, int, Any]]] = {}
    entries = []
    for position, (batch_id, row, label) in enumerate(
        zip(frame["id"].tolist(), frame["row"].tolist(), frame["label"].tolist(), strict=True)
    ):
        place = f"{unit} {position + first_line}"
        problem = _id_problem(batch_id) or _row_problem(row)
        if problem:
            entries.append(LabelEntry(place, problem=problem))
            continue
        label = None if isinstance(label, str) and label == "" else label
        grouped.setdefault(str(batch_id), []).append((place, int(float(row)), label))
    return entries + [
        LabelEntry(
            ", ".join(p for p, _, _ in cells[:3]) + (" ..." if len(cells) > 3 else ""),
            batch_id,
            tuple(i for _, i, _ in cells),
            tuple(v for _, _, v in cells),
            False,
        )
        for batch_id, cells in grouped.items()
    ]


def _row_problem(value: Any) -> str | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = -1.0
    if not (number >= 0 and number.is_integer()):  # NaN fails the comparison too
        return f"'row' must be a row number from 0, got {value!r}"
    return None
