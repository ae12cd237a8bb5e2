"""The one reader of captured traffic: batches and their rows as frames, labels joined.

Every consumer of `data/captured_data/` (labels, improve, reports) reads through here, so the
capture format is known in this module and the writer only.

Files are read line by line (`mara.capture.lines.AppendedLines`). A line that does not end
in a newline is still being written, or was torn by a crash: it is left for a later read
and, while it stays unfinished, counted in `torn_lines`, never fatal. The index keeps one
small record per batch and where its line lives, so a capture of millions of rows is
streamed once and rows are parsed again only for the batches a caller asks for. It is saved
beside each file (`.index/<file>.json`), so the next process parses only lines appended
since.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

from mara.capture.lines import AppendedLines
from mara.capture.writer import captured_dir
from mara.labels.ledger import LabelLedger

__all__ = [
    "BATCH_COLUMNS",
    "CaptureIndex",
    "CaptureIndexes",
    "batch_key",
    "labelled_traffic",
    "parse_line",
    "shadow_scores",
    "shadowed_traffic",
]

log = logging.getLogger(__name__)

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
_SIDECAR_DIR = ".index"
_SIDECAR_VERSION = 1


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


def _summary(record: dict[str, Any]) -> dict[str, Any]:
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


@dataclass
class _Location:
    path: Path
    offset: int
    length: int


@dataclass
class CaptureIndex:
    """Every captured batch of one problem, indexed incrementally.

    `refresh()` reads only the bytes appended since the last call, so a long-running
    server can keep one index and refresh it cheaply before each use.
    """

    home: Path
    phase: str
    prob: str
    skipped: int = 0
    _records: list[dict[str, Any]] = field(default_factory=list, repr=False)
    _locations: list[_Location] = field(default_factory=list, repr=False)
    _consumed: dict[Path, int] = field(default_factory=dict, repr=False)
    _torn: dict[Path, int] = field(default_factory=dict, repr=False)
    _first: dict[str, int] = field(default_factory=dict, repr=False)
    _in_file: dict[Path, list[int]] = field(default_factory=dict, repr=False)
    _skipped_in: dict[Path, int] = field(default_factory=dict, repr=False)

    @property
    def folder(self) -> Path:
        """Where this problem's captured files are."""
        return captured_dir(self.home, self.phase, self.prob)

    def refresh(self) -> CaptureIndex:
        """Read whatever was appended since the last refresh."""
        for path in sorted(self.folder.glob("*.jsonl")):
            self._read_file(path)
        return self

    def __len__(self) -> int:
        return len(self._records)

    def first(self, key: str) -> dict[str, Any] | None:
        """The summary of the first batch captured with this key, or None."""
        position = self._first.get(key)
        return None if position is None else self._records[position]

    def batches(self) -> pd.DataFrame:
        """One row per captured batch, in capture order (BATCH_COLUMNS)."""
        frame = pd.DataFrame(self._records, columns=list(BATCH_COLUMNS))
        frame["received_at"] = frame["received_at"].astype(float)
        frame["n_rows"] = frame["n_rows"].astype(int)
        return frame

    def rows(self, keys: Iterable[str] | None = None, *, features: Iterable[str]) -> pd.DataFrame:
        """The rows of the first capture of each batch in `keys` (every batch if None).

        Columns: `key`, `row` (position in the batch), `received_at`, `model_version`,
        `prediction`, then one column per name in `features` holding the cells as sent
        (absent columns are all None). Rows keep their batch's order.
        """
        features = list(features)
        wanted = self._first.keys() if keys is None else keys
        positions = sorted({self._first[k] for k in wanted if k in self._first})
        parts = [self._batch_rows(p, features) for p in positions]
        if not parts:
            columns = ["key", "row", "received_at", "model_version", "prediction", *features]
            return pd.DataFrame(columns=columns)
        return pd.concat(parts, ignore_index=True)

    def _batch_rows(self, position: int, features: list[str]) -> pd.DataFrame:
        summary, location = self._records[position], self._locations[position]
        with location.path.open("rb") as file:
            file.seek(location.offset)
            record = parse_line(file.read(location.length))
        if record is None:  # the file changed under us; nothing to read from it
            raise OSError(f"{location.path}: captured line at {location.offset} is unreadable")
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

    def _read_file(self, path: Path) -> None:
        if path not in self._consumed:
            self._consumed[path] = self._load_sidecar(path)
        start = self._consumed[path]
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return
        if size <= start:
            return
        lines = AppendedLines(path, parse_line, start=start)
        added = 0
        for offset, length, record in lines:
            self._remember(path, offset, length, _summary(record))
            added += 1
        self._consumed[path] = lines.end
        self.skipped += lines.damaged
        self._skipped_in[path] = self._skipped_in.get(path, 0) + lines.damaged
        if lines.unfinished:
            # Left for the next refresh; if the writer never finishes it, it is a torn line.
            self._torn[path] = lines.unfinished
        else:
            self._torn.pop(path, None)
        if added:
            self._save_sidecar(path)

    def _remember(self, path: Path, offset: int, length: int, summary: dict[str, Any]) -> None:
        self._records.append(summary)
        self._locations.append(_Location(path, offset, length))
        self._in_file.setdefault(path, []).append(len(self._records) - 1)
        self._first.setdefault(summary["key"], len(self._records) - 1)

    # A sidecar keeps each file's batch summaries and where its lines are, so the next
    # process reads only what was appended since (a capture is parsed once, not per read).

    @staticmethod
    def _sidecar(path: Path) -> Path:
        return path.parent / _SIDECAR_DIR / f"{path.name}.json"

    def _load_sidecar(self, path: Path) -> int:
        """Summaries from the file's sidecar; the offset to read on from (0 without one)."""
        try:
            saved = orjson.loads(self._sidecar(path).read_bytes())
            if saved["version"] != _SIDECAR_VERSION or saved["consumed"] > path.stat().st_size:
                return 0  # another format, or the file was replaced: read it again
            batches = [(int(o), int(n), dict(summary)) for o, n, summary in saved["batches"]]
        except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return 0
        for offset, length, summary in batches:
            self._remember(path, offset, length, summary)
        self._skipped_in[path] = int(saved.get("skipped", 0))
        self.skipped += self._skipped_in[path]
        return int(saved["consumed"])

    def _save_sidecar(self, path: Path) -> None:
        positions = self._in_file.get(path, [])
        body = {
            "version": _SIDECAR_VERSION,
            "consumed": self._consumed[path],
            "skipped": self._skipped_in.get(path, 0),
            "batches": [
                (self._locations[i].offset, self._locations[i].length, self._records[i])
                for i in positions
            ],
        }
        target = self._sidecar(path)
        partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
        try:
            target.parent.mkdir(exist_ok=True)
            partial.write_bytes(orjson.dumps(body))
            os.replace(partial, target)
        except OSError as exc:  # a read-only capture is still readable, only slower next time
            log.debug("%s: could not save the capture index (%s)", target, exc)

    @property
    def torn_lines(self) -> int:
        """Files whose last line is unfinished (being written, or torn by a crash)."""
        return len(self._torn)


class CaptureIndexes:
    """The capture indexes of a long-running process, one per problem, shared by its users.

    `use` hands out a problem's index under that index's lock: a refresh and the reads that
    follow it are one step, and the process parses each captured line once.
    """

    def __init__(self, home: Path):
        self.home = Path(home)
        self._indexes: dict[tuple[str, str], tuple[CaptureIndex, threading.Lock]] = {}
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def use(self, phase: str, prob: str) -> Iterator[CaptureIndex]:
        """The problem's index, refreshed, held exclusively for the `with` block."""
        with self._lock:
            index, lock = self._indexes.setdefault(
                (phase, prob), (CaptureIndex(self.home, phase, prob), threading.Lock())
            )
        with lock:
            yield index.refresh()


def labelled_traffic(
    home: Path,
    phase: str,
    prob: str,
    features: Iterable[str],
    *,
    trusted: Collection[str] | None = None,
) -> tuple[pd.DataFrame, CaptureIndex]:
    """Every captured row that has a late label, with its label, oldest batch first
    (only the labels the `trusted` senders gave, when given).

    A batch id captured more than once (a client that retried) is taken at its first capture.
    The index is returned too, for what the caller reports about the capture as a whole.
    """
    index = CaptureIndex(Path(home), phase, prob).refresh()
    labels = LabelLedger(home, phase, prob).read(trusted=trusted)
    rows = index.rows(labels["key"].unique().tolist(), features=features)
    joined = rows.merge(labels, on=["key", "row"], how="inner", validate="one_to_one")
    return joined.sort_values(["received_at", "key", "row"], kind="stable").reset_index(
        drop=True
    ), index


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


def shadowed_traffic(
    home: Path,
    phase: str,
    prob: str,
    version: str,
    features: Iterable[str],
    *,
    trusted: Collection[str] | None = None,
) -> pd.DataFrame:
    """Labelled captured rows that `version` also scored in shadow, oldest first.

    Columns of `labelled_traffic` plus `shadow_prediction`; only rows answered by the version
    the challenger was shadowing (`model_version` equals the shadow's `champion_version`).
    """
    traffic, _ = labelled_traffic(home, phase, prob, features, trusted=trusted)
    scores = shadow_scores(home, phase, prob)
    scores = scores[scores["version"] == str(version)].drop(columns="version")
    joined = traffic.merge(scores, on=["key", "row"], how="inner", validate="one_to_one")
    joined = joined[joined["model_version"] == joined["champion_version"]]
    return joined.drop(columns="champion_version").reset_index(drop=True)
