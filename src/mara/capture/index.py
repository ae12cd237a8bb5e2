"""The one reader of captured traffic: every batch of a problem indexed, its rows as frames.

Every consumer of `data/captured_data/` (labels, improve, reports) reads through here, so the
capture format is known in `mara.capture.record` and the writer only; `mara.labels.traffic`
joins the late labels to what it reads.

Files are read line by line (`mara.files.AppendedLines`). A line that does not end
in a newline is still being written, or was torn by a crash: it is left for a later read
and, while it stays unfinished, counted in `torn_lines`, never fatal. The index keeps one
small record per batch and where its line lives, so a capture of millions of rows is
streamed once and rows are parsed again only for the batches a caller asks for. It is saved
beside each file (`.index/<file>.json`), so the next process parses only lines appended
since.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pandas as pd

from mara.capture.record import BATCH_COLUMNS, batch_rows, no_rows, parse_line, summarize
from mara.capture.writer import captured_dir
from mara.files import AppendedLines, replace_whole
from mara.home import Problem

__all__ = ["CaptureIndex", "CaptureIndexes"]

log = logging.getLogger(__name__)

_SIDECAR_DIR = ".index"
_SIDECAR_VERSION = 1


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
        return pd.concat(parts, ignore_index=True) if parts else no_rows(features)

    def _batch_rows(self, position: int, features: list[str]) -> pd.DataFrame:
        summary, location = self._records[position], self._locations[position]
        with location.path.open("rb") as file:
            file.seek(location.offset)
            record = parse_line(file.read(location.length))
        if record is None:  # the file changed under us; nothing to read from it
            raise OSError(f"{location.path}: captured line at {location.offset} is unreadable")
        return batch_rows(summary, record, features)

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
            self._remember(path, offset, length, summarize(record))
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
        try:
            # An index can be rebuilt from the capture: no fsync.
            replace_whole(target, orjson.dumps(body), durable=False)
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
        self._indexes: dict[Problem, tuple[CaptureIndex, threading.Lock]] = {}
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def use(self, problem: Problem) -> Iterator[CaptureIndex]:
        """The problem's index, refreshed, held exclusively for the `with` block."""
        with self._lock:
            index, lock = self._indexes.setdefault(
                problem,
                (CaptureIndex(self.home, problem.phase, problem.prob), threading.Lock()),
            )
        with lock:
            yield index.refresh()
