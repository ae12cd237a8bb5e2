"""LabelLedger: the append-only record of every late label a problem received.

Each accepted label file (or POST) becomes one new file under `data/labels/<phase>/<prob>/`,
written beside its final name and renamed into place, so a reader sees all of it or none.
Files are never changed afterwards; a row labelled again is settled when reading: the later
label wins. Each set names its `sender` (the credential that POSTed it, "local" for `mara
label`; "unknown" in ledgers written before senders were recorded); a reader told to trust
only some senders settles each row among their labels alone.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Collection
from pathlib import Path
from typing import Any

import orjson
import pandas as pd

from mara.files import AppendedLines, replace_whole
from mara.home import Home, Problem

__all__ = ["UNKNOWN_SENDER", "LabelLedger", "labels_dir"]

UNKNOWN_SENDER = "unknown"


def labels_dir(home: Path, phase: str, prob: str) -> Path:
    """Where a problem's label ledger lives under a project home."""
    return Home(home).labels(Problem(phase, prob))


class LabelLedger:
    """The labels of one problem: `append` a set of records, `read` the latest label per row."""

    def __init__(self, home: Path, phase: str, prob: str):
        self.folder = labels_dir(home, phase, prob)

    def append(self, records: list[dict[str, Any]]) -> Path:
        """Write records (`key`, `rows`, `labels`, `labelled_at`, `source`, `sender`) as one
        new file."""
        # Names sort in the order files were written, which is the order labels apply in.
        path = self.folder / f"labels-{time.time_ns():020d}-{os.getpid()}.jsonl"
        replace_whole(path, b"".join(orjson.dumps(record) + b"\n" for record in records))
        return path

    def files(self) -> list[Path]:
        """The ledger's files, oldest first."""
        return sorted(self.folder.glob("labels-*.jsonl"))

    def read(self, *, trusted: Collection[str] | None = None) -> pd.DataFrame:
        """One row per labelled (batch key, row): the latest label given to it, with its
        `sender`. With `trusted`, only labels those senders gave are read at all.

        Ledger files never change once in place, so each is parsed once per process: the
        merged labels are kept and only files written since are read. A file that sorts
        among those already read (another process's clock) makes it read them all again.
        """
        files = self.files()
        names = tuple(path.name for path in files)
        with _merged_lock:
            known, frame, keys, relabelled = _merged.get(
                self.folder, ((), _empty(), frozenset(), False)
            )
            if names[: len(known)] != known:
                known, frame, keys, relabelled = (), _empty(), frozenset(), False
            if len(names) > len(known):
                fresh = _parse(files[len(known) :])
                frame = pd.concat([frame, fresh], ignore_index=True)
                fresh_keys = set(fresh["key"])
                # Only a row labelled again needs the merge; most sets label new batches.
                # Kept per sender, so a reader trusting some senders still finds their labels.
                if not keys.isdisjoint(fresh_keys) or fresh.duplicated(["key", "row"]).any():
                    frame = frame.drop_duplicates(["key", "row", "sender"], keep="last")
                    frame = frame.reset_index(drop=True)
                    relabelled = relabelled or bool(frame.duplicated(["key", "row"]).any())
                keys = keys | fresh_keys
                _merged[self.folder] = (names, frame, keys, relabelled)
        if trusted is not None:
            frame = frame[frame["sender"].isin(list(trusted))]
        if relabelled:  # by several senders: the latest label wins, in file order
            frame = frame.drop_duplicates(["key", "row"], keep="last")
        if trusted is not None or relabelled:
            return frame.reset_index(drop=True)
        return frame.copy(deep=False)


# Per ledger folder: the files merged so far, their latest label per row and sender, the
# batch keys, and whether a row has labels from more than one sender.
_merged: dict[Path, tuple[tuple[str, ...], pd.DataFrame, frozenset, bool]] = {}
_merged_lock = threading.Lock()


def _parse(paths: list[Path]) -> pd.DataFrame:
    keys, rows, labels, times, senders = [], [], [], [], []
    for path in paths:
        for _, _, record in AppendedLines(path, _record):
            n = len(record["rows"])
            keys.extend([record["key"]] * n)
            rows.extend(record["rows"])
            labels.extend(record["labels"])
            times.extend([record["labelled_at"]] * n)
            senders.extend([record.get("sender", UNKNOWN_SENDER)] * n)
    return _frame(keys, rows, labels, times, senders)


def _record(line: bytes) -> dict[str, Any] | None:
    """A ledger line, or None (logged by AppendedLines) if the file was damaged on disk."""
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return record if isinstance(record, dict) else None


def _empty() -> pd.DataFrame:
    return _frame([], [], [], [], [])


def _frame(keys: list, rows: list, labels: list, times: list, senders: list) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "key": pd.Series(keys, dtype=object),
            "row": pd.Series(rows, dtype="int64"),
            "label": pd.Series(labels, dtype=object),
            "labelled_at": pd.Series(times, dtype=float),
            "sender": pd.Series(senders, dtype=object),
        }
    )
