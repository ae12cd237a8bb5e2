"""The captured record: one served batch a line, its join key, and what the index keeps of it.

The writer (`mara.capture.writer`) and this module are the only ones that know the format.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import orjson
import pandas as pd

__all__ = ["BATCH_COLUMNS", "batch_key", "batch_rows", "no_rows", "parse_line", "summarize"]

BATCH_COLUMNS = (
    "key",
    "id",
    "received_at",
    "model_version",
    "n_rows",
    "drift",
    "drift_statistic",
    "drift_threshold",
    "server_ms",
)


def batch_key(batch_id: Any) -> str:
    """The join key of a request id: ids sent as 7 and "7" name the same batch."""
    return str(batch_id)


def parse_line(line: bytes) -> dict[str, Any] | None:
    """One captured record, or None for a line that is not one.

    A record that keeps its request body as sent (`request`) gets that body's `columns` and
    `rows`. The writer falls back to Python's json for cells nested deeper than orjson writes,
    and a body may spell NaN as `NaN` (Python clients do); those are read back the same way.
    """
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            return None
    if not isinstance(record, dict) or "id" not in record:
        return None
    request = record.pop("request", None)
    if isinstance(request, dict):
        record["columns"], record["rows"] = request.get("columns"), request.get("rows")
    if not isinstance(record.get("rows"), list):
        return None
    return record


def summarize(record: dict[str, Any]) -> dict[str, Any]:
    """What the index keeps of one captured batch (BATCH_COLUMNS)."""
    report = record.get("drift_report") or {}
    return {
        "key": batch_key(record["id"]),
        "id": record["id"],
        "received_at": float(record.get("received_at") or 0.0),
        "model_version": str(record.get("model_version", "")),
        "n_rows": len(record["rows"]),
        "drift": int(record.get("drift") or 0),
        "drift_statistic": report.get("statistic"),
        "drift_threshold": report.get("threshold"),
        "server_ms": record.get("server_ms"),
    }


def batch_rows(
    summary: dict[str, Any], record: dict[str, Any], features: list[str]
) -> pd.DataFrame:
    """One batch's rows: `key`, `row`, `received_at`, `model_version`, `prediction`, then
    the cells of each name in `features` as sent (absent columns are all None)."""
    n = len(record["rows"])
    # Rows were checked against their columns when served: one object frame, built whole.
    sent = pd.DataFrame(record["rows"], columns=list(record["columns"]), dtype=object)
    frame = pd.DataFrame(
        {
            "key": [summary["key"]] * n,
            "row": np.arange(n),
            "received_at": np.full(n, summary["received_at"], dtype=float),
            "model_version": [summary["model_version"]] * n,
            "prediction": list(record.get("predictions") or [None] * n),
        }
    )
    cells = sent.reindex(columns=features)
    for name in set(features) - set(sent.columns):
        cells[name] = None  # absent, not NaN: the same missing cell the server saw
    return pd.concat([frame, cells], axis=1)


def no_rows(features: list[str]) -> pd.DataFrame:
    """The rows frame of no batch at all (batch_rows' columns)."""
    return pd.DataFrame(
        columns=["key", "row", "received_at", "model_version", "prediction", *features]
    )
