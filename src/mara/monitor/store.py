"""SummaryStore: every worker's summary files, read incrementally into per-problem arrays."""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from mara.monitor.summary import PROFILE_SECONDS, monitor_dir

__all__ = ["Batches", "Profile", "SummaryStore"]

# Quality columns of a batch line's "q", in order.
QUALITY = ("cells", "missing", "coerced", "invalid", "unseen")


@dataclass(frozen=True)
class Batches:
    """One problem's batch lines as columns, sorted by time.

    `drift` is -1 where no verdict was made (a refused request, no detector); `stat` and
    `thr` are NaN there, and `thr` is NaN for batches too small for a threshold.
    """

    t: np.ndarray
    code: np.ndarray
    rows: np.ndarray
    ms: np.ndarray
    version: np.ndarray  # object: the model version string, None when refused
    drift: np.ndarray
    stat: np.ndarray
    thr: np.ndarray
    quality: np.ndarray  # (n, 5) counts in QUALITY order
    pred: list[Any]  # per batch: a binary histogram (list) or label counts (dict); None refused
    top: list[Any]  # per batch: [[feature, score], ...] or None

    def __len__(self) -> int:
        return len(self.t)

    def since(self, start: float) -> Batches:
        """The batches at or after `start` (epoch seconds)."""
        i = int(np.searchsorted(self.t, start))
        return self.slice(i, len(self.t))

    def slice(self, i: int, j: int) -> Batches:
        """Batches i..j-1."""
        return Batches(
            self.t[i:j], self.code[i:j], self.rows[i:j], self.ms[i:j], self.version[i:j],
            self.drift[i:j], self.stat[i:j], self.thr[i:j], self.quality[i:j],
            self.pred[i:j], self.top[i:j],
        )


@dataclass(frozen=True)
class Profile:
    """One minute of traffic on the detector's bins (one worker's share of it)."""

    t: float
    version: str
    batches: int
    rows: int
    counts: np.ndarray
    score_sum: np.ndarray
    score_max: np.ndarray


class _Tail:
    """Reads only the complete lines appended to a file since the last call."""

    def __init__(self, path: Path):
        self.path = path
        self.offset = 0

    def new_lines(self) -> list[bytes]:
        with self.path.open("rb") as file:
            file.seek(self.offset)
            data = file.read()
        end = data.rfind(b"\n") + 1  # a line still being written waits for the next call
        self.offset += end
        return [line for line in data[:end].split(b"\n") if line]


class SummaryStore:
    """The summaries under `data/monitor/`, re-read incrementally on every `refresh`.

    Several workers each hold one; they all read every worker's files, so each page shows
    the same numbers whichever worker answers it.
    """

    def __init__(self, home: Path):
        self.folder = monitor_dir(home)
        self._tails: dict[Path, _Tail] = {}
        self._raw: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._profiles: dict[str, list[Profile]] = defaultdict(list)
        self._columns: dict[str, Batches] = {}
        self._lock = threading.Lock()

    def refresh(self) -> None:
        """Read what every worker appended since the last refresh."""
        with self._lock:
            if not self.folder.is_dir():
                return
            for path in sorted(self.folder.glob("*.jsonl")):
                tail = self._tails.setdefault(path, _Tail(path))
                lines = tail.new_lines()
                if not lines:
                    continue
                is_profile = path.name.startswith("profiles-")
                for line in lines:
                    try:
                        record = orjson.loads(line)
                        key = f"{record['phase']}/{record['prob']}"
                    except (orjson.JSONDecodeError, KeyError, TypeError):
                        continue  # not a summary line: nothing to show for it
                    if is_profile:
                        self._profiles[key].append(_profile(record))
                    else:
                        self._raw[key].append(record)
                        self._columns.pop(key, None)

    def problems(self) -> list[str]:
        """Every `phase/prob` that has a summary line."""
        return sorted(set(self._raw) | set(self._profiles))

    def batches(self, problem: str) -> Batches:
        """One problem's batch lines as columns (built once per change)."""
        with self._lock:
            if problem not in self._columns:
                self._columns[problem] = _columns(self._raw.get(problem, []))
            return self._columns[problem]

    def profiles(self, problem: str, *, since: float = -np.inf) -> list[Profile]:
        """One problem's profiles of the minutes that end after `since`."""
        with self._lock:
            return [p for p in self._profiles.get(problem, []) if p.t + PROFILE_SECONDS > since]


def _profile(record: dict[str, Any]) -> Profile:
    return Profile(
        t=float(record["t"]),
        version=str(record["v"]),
        batches=int(record["batches"]),
        rows=int(record["rows"]),
        counts=np.asarray(record["counts"], dtype=float),
        score_sum=np.asarray(record["score_sum"], dtype=float),
        score_max=np.asarray(record["score_max"], dtype=float),
    )


def _columns(records: list[dict[str, Any]]) -> Batches:
    records = sorted(records, key=lambda r: r["t"])
    n = len(records)
    nan = float("nan")
    quality = np.zeros((n, len(QUALITY)), dtype=np.int64)
    for i, r in enumerate(records):
        if "q" in r:
            quality[i] = r["q"]
    return Batches(
        t=np.fromiter((r["t"] for r in records), dtype=float, count=n),
        code=np.fromiter((r["code"] for r in records), dtype=np.int64, count=n),
        rows=np.fromiter((r.get("rows", 0) for r in records), dtype=np.int64, count=n),
        ms=np.fromiter((r.get("ms", nan) for r in records), dtype=float, count=n),
        version=np.array([r.get("v") for r in records], dtype=object),
        drift=np.fromiter((r.get("drift", -1) for r in records), dtype=np.int64, count=n),
        stat=np.fromiter((_num(r.get("stat")) for r in records), dtype=float, count=n),
        thr=np.fromiter((_num(r.get("thr")) for r in records), dtype=float, count=n),
        quality=quality,
        pred=[r.get("pred") for r in records],
        top=[r.get("top") for r in records],
    )


def _num(value: Any) -> float:
    return float("nan") if value is None else float(value)
