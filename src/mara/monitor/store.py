"""SummaryStore: every worker's summary files, read incrementally into per-problem arrays."""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from mara.files import AppendedLines
from mara.monitor.summary import PREDICTION_BINS, PROFILE_SECONDS, monitor_dir

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
    pred: np.ndarray  # (n, len(pred_labels)) predictions per probability bin or label
    pred_labels: list[str]
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
            self.t[i:j],
            self.code[i:j],
            self.rows[i:j],
            self.ms[i:j],
            self.version[i:j],
            self.drift[i:j],
            self.stat[i:j],
            self.thr[i:j],
            self.quality[i:j],
            self.pred[i:j],
            self.pred_labels,
            self.top[i:j],
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


class SummaryStore:
    """The summaries under `data/monitor/`, re-read incrementally on every `refresh`.

    Several workers each hold one; they all read every worker's files, so each page shows
    the same numbers whichever worker answers it.
    """

    def __init__(self, home: Path):
        self.folder = monitor_dir(home)
        # Per file: where the next refresh reads on from.
        self._offsets: dict[Path, int] = {}
        self._pending: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._profiles: dict[str, list[Profile]] = defaultdict(list)
        self._columns: dict[str, Batches] = {}
        self._lock = threading.Lock()

    def refresh(self) -> None:
        """Read what every worker appended since the last refresh."""
        with self._lock:
            if not self.folder.is_dir():
                return
            for path in sorted(self.folder.glob("*.jsonl")):
                lines = AppendedLines(path, _summary, start=self._offsets.get(path, 0))
                is_profile = path.name.startswith("profiles-")
                for _, _, record in lines:
                    key = f"{record['phase']}/{record['prob']}"
                    if is_profile:
                        self._profiles[key].append(_profile(record))
                    else:
                        self._pending[key].append(record)
                self._offsets[path] = lines.end

    def warm(self) -> None:
        """Read everything there is and build every problem's columns (at server start)."""
        self.refresh()
        for problem in self.problems():
            self.batches(problem)

    def problems(self) -> list[str]:
        """Every `phase/prob` that has a summary line."""
        return sorted(set(self._columns) | set(self._pending) | set(self._profiles))

    def batches(self, problem: str) -> Batches:
        """One problem's batch lines as columns; lines read since the last call are appended."""
        with self._lock:
            pending = self._pending.pop(problem, [])
            current = self._columns.get(problem)
            if current is None or pending:
                fresh = _columns(pending)
                current = fresh if current is None else _concat(current, fresh)
                self._columns[problem] = current
            return current

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
        **_predictions([r.get("pred") for r in records]),
        top=[r.get("top") for r in records],
    )


def _concat(old: Batches, new: Batches) -> Batches:
    """Both sets of columns in time order (workers' lines interleave in time)."""
    labels = old.pred_labels + [k for k in new.pred_labels if k not in old.pred_labels]

    def widen(b: Batches) -> np.ndarray:
        pred = np.zeros((len(b), len(labels)), dtype=np.int64)
        pred[:, [labels.index(k) for k in b.pred_labels]] = b.pred
        return pred

    t = np.concatenate([old.t, new.t])
    order = np.argsort(t, kind="stable")
    top = old.top + new.top
    return Batches(
        t=t[order],
        code=np.concatenate([old.code, new.code])[order],
        rows=np.concatenate([old.rows, new.rows])[order],
        ms=np.concatenate([old.ms, new.ms])[order],
        version=np.concatenate([old.version, new.version])[order],
        drift=np.concatenate([old.drift, new.drift])[order],
        stat=np.concatenate([old.stat, new.stat])[order],
        thr=np.concatenate([old.thr, new.thr])[order],
        quality=np.concatenate([old.quality, new.quality])[order],
        pred=np.concatenate([widen(old), widen(new)])[order],
        pred_labels=labels,
        top=[top[i] for i in order.tolist()],
    )


def _predictions(histograms: list[Any]) -> dict[str, Any]:
    """Prediction histograms as one matrix: probability bins (binary) or labels (multiclass)."""
    if any(isinstance(h, dict) for h in histograms):
        labels = sorted({k for h in histograms if isinstance(h, dict) for k in h})
        index = {k: i for i, k in enumerate(labels)}
        pred = np.zeros((len(histograms), len(labels)), dtype=np.int64)
        for i, h in enumerate(histograms):
            for k, n in (h or {}).items():
                pred[i, index[k]] = n
        return {"pred": pred, "pred_labels": labels}
    if not any(isinstance(h, list) for h in histograms):  # refusals only: no predictions
        return {"pred": np.zeros((len(histograms), 0), dtype=np.int64), "pred_labels": []}
    pred = np.zeros((len(histograms), PREDICTION_BINS), dtype=np.int64)
    for i, h in enumerate(histograms):
        if isinstance(h, list) and len(h) == PREDICTION_BINS:
            pred[i] = h
    labels = [
        f"{i / PREDICTION_BINS:.1f}–{(i + 1) / PREDICTION_BINS:.1f}" for i in range(PREDICTION_BINS)
    ]
    return {"pred": pred, "pred_labels": labels}


def _num(value: Any) -> float:
    return float("nan") if value is None else float(value)


def _summary(line: bytes) -> dict[str, Any] | None:
    """A summary line, or None for one that is not (nothing to show for it)."""
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(record, dict) or "phase" not in record or "prob" not in record:
        return None
    return record
