"""The shadow stream: what a problem's challenger scored off the request path, read back."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import orjson
import pandas as pd

from mara.capture.record import batch_key
from mara.capture.writer import captured_dir
from mara.files import AppendedLines

__all__ = ["shadow_scores"]


def shadow_scores(home: Path, phase: str, prob: str) -> pd.DataFrame:
    """Every row a challenger scored in shadow: `key`, `row`, `version` (the challenger's),
    `champion_version` (what answered) and `shadow_prediction`, in capture order.

    A batch scored more than once by a version (a retried id) keeps its first score, as the
    capture keeps a batch's first answer. Unfinished and unreadable lines are left out. Each
    file's complete lines are parsed once per process; a later call reads what was appended.
    """
    keys, versions, champions, predictions = [], [], [], []
    seen: set[tuple[str, str]] = set()
    for path in sorted((captured_dir(home, phase, prob) / "shadow").glob("*.jsonl")):
        for key, version, champion, predicted in _shadow_records(path):
            if (key, version) in seen:
                continue
            seen.add((key, version))
            keys.append(key)
            versions.append(version)
            champions.append(champion)
            predictions.append(predicted)
    sizes = np.fromiter(map(len, predictions), dtype=np.intp, count=len(predictions))

    def per_row(values: list[str]) -> pd.Series:
        return pd.Series(np.repeat(np.asarray(values, dtype=object), sizes), dtype=object)

    rows = [np.arange(n) for n in sizes]
    return pd.DataFrame(
        {
            "key": per_row(keys),
            "row": np.concatenate(rows) if rows else np.empty(0, dtype=np.int64),
            "version": per_row(versions),
            "champion_version": per_row(champions),
            "shadow_prediction": pd.Series(
                [p for batch in predictions for p in batch], dtype=object
            ),
        }
    )


# Per shadow file: the bytes parsed so far and the records in them (files only grow).
_shadow_read: dict[Path, tuple[int, list[tuple[str, str, str, list]]]] = {}
_shadow_lock = threading.Lock()


def _shadow_records(path: Path) -> list[tuple[str, str, str, list]]:
    """(key, version, champion_version, predictions) of each complete line of one file."""
    with _shadow_lock:
        offset, records = _shadow_read.get(path, (0, []))
        size = path.stat().st_size
        if size < offset:  # not the file parsed before
            offset, records = 0, []
        if size > offset:
            lines = AppendedLines(path, _shadow_record, start=offset)
            records = records + [record for _, _, record in lines]
            _shadow_read[path] = (lines.end, records)
        return records


def _shadow_record(line: bytes) -> tuple[str, str, str, list] | None:
    try:
        record = orjson.loads(line)
        return (
            batch_key(record["id"]),
            str(record["version"]),
            str(record["champion_version"]),
            list(record["predictions"]),
        )
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
