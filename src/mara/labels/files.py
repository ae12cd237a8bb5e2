"""Label files as they arrive: JSONL lines per request, or a table of (id, row, label).

This module only reads and checks shape; which labels are acceptable (the classes, the
number of rows of a captured batch) is decided in `mara.labels.ingest`.
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
    their length must equal the batch's rows; others name each row (`rows`).
    """

    where: str
    id: Any
    rows: tuple[int, ...]
    labels: tuple[Any, ...]
    positional: bool


def read_label_file(path: Path) -> list[LabelEntry]:
    """Every entry of a .jsonl, .csv or .parquet label file; LabelError lists every bad line."""
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
    """Entries from parsed JSON objects (`{"id", "labels"}`); LabelError lists every bad one."""
    entries, problems = [], []
    for number, item in enumerate(items, start=1):
        place = f"{where} {number}"
        try:
            entries.append(_entry_of(item, place))
        except LabelError as exc:
            problems.append(str(exc))
    _raise_if(problems)
    return entries


def _read_jsonl(path: Path) -> list[LabelEntry]:
    items, problems = [], []
    for number, line in enumerate(path.read_bytes().split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            items.append((number, orjson.loads(line)))
        except orjson.JSONDecodeError as exc:
            problems.append(f"line {number}: not JSON ({exc})")
    entries = []
    for number, item in items:
        try:
            entries.append(_entry_of(item, f"line {number}"))
        except LabelError as exc:
            problems.append(str(exc))
    _raise_if(problems, path)
    return entries


def _entry_of(item: Any, place: str) -> LabelEntry:
    if not isinstance(item, dict):
        raise LabelError(f"{place}: expected an object with 'id' and 'labels'")
    _check_id(item.get("id"), place)
    labels = item.get("labels")
    if not isinstance(labels, list):
        raise LabelError(f"{place}: 'labels' must be a list, one label per row (null = unknown)")
    return LabelEntry(place, item["id"], tuple(range(len(labels))), tuple(labels), True)


def _check_id(value: Any, place: str) -> None:
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        raise LabelError(f"{place}: 'id' must be the request's id (a string or an integer)")


def _read_table(frame: pd.DataFrame, path: Path, first_line: int) -> list[LabelEntry]:
    missing = [c for c in _TABLE_COLUMNS if c not in frame.columns]
    if missing:
        raise LabelError(f"{path}: columns {missing} missing; a label table has id, row, label")
    unit = "line" if first_line == 2 else "row"
    grouped: dict[str, list[tuple[str, int, Any]]] = {}
    problems = []
    for position, (batch_id, row, label) in enumerate(
        zip(frame["id"].tolist(), frame["row"].tolist(), frame["label"].tolist(), strict=True)
    ):
        place = f"{unit} {position + first_line}"
        try:
            _check_id(batch_id, place)
            index = _row_number(row, place)
        except LabelError as exc:
            problems.append(str(exc))
            continue
        label = None if isinstance(label, str) and label == "" else label
        grouped.setdefault(str(batch_id), []).append((place, index, label))
    _raise_if(problems, path)
    return [
        LabelEntry(
            ", ".join(p for p, _, _ in cells[:3]) + (" ..." if len(cells) > 3 else ""),
            batch_id,
            tuple(i for _, i, _ in cells),
            tuple(v for _, _, v in cells),
            False,
        )
        for batch_id, cells in grouped.items()
    ]


def _row_number(value: Any, place: str) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = -1.0
    if not (number >= 0 and number.is_integer()):  # NaN fails the comparison too
        raise LabelError(f"{place}: 'row' must be a row number from 0, got {value!r}")
    return int(number)


def _raise_if(problems: list[str], path: Path | None = None) -> None:
    if not problems:
        return
    shown = "\n  ".join(problems[:20])
    more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
    prefix = f"{path}: " if path is not None else ""
    raise LabelError(
        f"{prefix}{len(problems)} bad label line(s), nothing written:\n  {shown}{more}"
    )
