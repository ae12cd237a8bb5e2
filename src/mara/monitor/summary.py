"""SummaryWriter: a compact record of every answered or refused batch, written off the request path.

Two kinds of JSON lines go under `data/monitor/`, each worker process writing its own files:

- `batches-*.jsonl`, one line per request: time, problem, model version, status code, rows,
  server latency, the drift verdict (flag, statistic, threshold, top feature scores), the data
  quality counts and a small histogram of the predictions. A few hundred bytes.
- `profiles-*.jsonl`, one line per problem, model version and minute of traffic: the batches'
  cells counted on the drift detector's own bins and the per-feature drift scores summed, so
  the dashboard can show recent distributions and per-feature drift without raw rows.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from mara.drift import DriftDetector, DriftReport
from mara.files import new_file_name
from mara.home import Home
from mara.outcome import Outcome

__all__ = [
    "PREDICTION_BINS",
    "PROFILE_SECONDS",
    "TOP_FEATURES",
    "SummaryWriter",
    "monitor_dir",
    "prediction_histogram",
    "summary_record",
]

log = logging.getLogger(__name__)

PROFILE_SECONDS = 60  # one profile line per problem, version and minute (and worker)
TOP_FEATURES = 5  # per-feature drift scores kept in each batch line
PREDICTION_BINS = 10  # equal-width bins of a binary model's probability
_IDLE_FLUSH_S = 2.0  # a profile is written early once traffic pauses, so the page is current
# The thread wakes on the clock and takes everything queued: a request's `record` never wakes
# it, so the two never trade the interpreter lock back and forth once per request.
_POLL_S = 0.05
_STOP = object()


def monitor_dir(home: Path) -> Path:
    """Where the summaries live under a project home."""
    return Home(home).monitor()


def prediction_histogram(predictions: Sequence[Any], *, binary: bool) -> list[int] | dict[str, int]:
    """Counts of probabilities in ten equal bins (binary), or of each label (multiclass)."""
    if binary:
        proba = np.clip(np.asarray(predictions, dtype=float), 0.0, 1.0)
        bins = np.minimum((proba * PREDICTION_BINS).astype(np.intp), PREDICTION_BINS - 1)
        return np.bincount(bins, minlength=PREDICTION_BINS).tolist()
    counts: dict[str, int] = {}
    for label in predictions:
        counts[str(label)] = counts.get(str(label), 0) + 1
    return counts


def summary_record(outcome: Outcome) -> dict[str, Any]:
    """The summary line of one answered or refused request."""
    record: dict[str, Any] = {
        "t": outcome.at,
        "phase": outcome.problem.phase,
        "prob": outcome.problem.prob,
        "code": outcome.status,
        "rows": outcome.rows,
        "ms": round(outcome.seconds * 1000, 3),
    }
    quality, report = outcome.quality, outcome.report
    if not outcome.answered or quality is None:
        return record
    record["v"] = outcome.version
    record["q"] = [
        quality.cells,
        quality.cells_missing,
        quality.cells_coerced,
        quality.cells_invalid,
        quality.unseen_categories,
    ]
    record["pred"] = prediction_histogram(outcome.predictions, binary=outcome.binary)
    if report is not None:
        top = sorted(report.feature_scores.items(), key=lambda kv: -kv[1])[:TOP_FEATURES]
        record["drift"] = report.drift
        record["stat"] = round(report.statistic, 4)
        record["thr"] = round(report.threshold, 4) if np.isfinite(report.threshold) else None
        record["top"] = [[name, round(score, 3)] for name, score in top]
    return record


@dataclass
class _Profile:
    """One minute of a problem's traffic on its detector's bins."""

    start: float
    counts: np.ndarray
    score_sum: np.ndarray
    score_max: np.ndarray
    batches: int = 0
    rows: int = 0
    touched: float = field(default_factory=time.monotonic)


class SummaryWriter:
    """Queues summaries from the request path; a thread appends them to this worker's files.

    `record` returns at once; the thread takes what was queued every 50 ms. It also counts each
    batch's rows on the drift detector's bins (the same `Reference.counts` the detector scores
    with, reused when the detector scored every row), so the request never pays for it.
    `close` writes everything queued, the open profiles included.
    """

    def __init__(self, home: Path, *, max_file_bytes: int = 64 * 2**20):
        self.folder = monitor_dir(home)
        self.max_file_bytes = max_file_bytes
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._files: dict[str, Any] = {}
        self._profiles: dict[tuple[str, str, str], _Profile] = {}
        self._thread = threading.Thread(target=self._run, name="mara-monitor", daemon=True)
        self._thread.start()

    def record(
        self,
        record: dict[str, Any],
        *,
        detector: DriftDetector | None = None,
        matrix: np.ndarray | None = None,
        report: DriftReport | None = None,
    ) -> None:
        """Queue one summary line; with a detector, matrix and report, profile the batch too."""
        self._queue.put((record, detector, matrix, report))

    def close(self) -> None:
        """Write everything queued and every open profile, then close the files."""
        self._queue.put(_STOP)
        self._thread.join()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            time.sleep(_POLL_S)
            handled = 0
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stopping = True
                    break
                self._guarded(self._handle, *item)
                handled += 1
            if handled:
                for file in self._files.values():
                    file.flush()
            else:  # writes only the profiles untouched for _IDLE_FLUSH_S
                self._guarded(self._flush_profiles, idle=True)
        self._guarded(self._flush_profiles, idle=False)
        for file in self._files.values():
            file.close()
        self._files.clear()

    @staticmethod
    def _guarded(function: Any, *args: Any, **kwargs: Any) -> None:
        try:
            function(*args, **kwargs)
        except Exception:  # a full disk must not stop the writer or the server
            log.exception("monitor: could not write a summary")

    def _handle(
        self,
        record: dict[str, Any],
        detector: DriftDetector | None,
        matrix: np.ndarray | None,
        report: DriftReport | None,
    ) -> None:
        self._write("batches", record)
        if detector is None or matrix is None or report is None or not len(matrix):
            return
        key = (record["phase"], record["prob"], record["v"])
        start = record["t"] - record["t"] % PROFILE_SECONDS
        profile = self._profiles.get(key)
        if profile is not None and profile.start != start:
            self._write("profiles", _profile_line(key, profile))
            profile = None
        # The detector counted these very cells when it scored every row: not counted twice.
        counts = report.counts if report.counts is not None else detector.reference_.counts(matrix)
        scores = np.fromiter(report.feature_scores.values(), dtype=float)
        if profile is None:
            profile = _Profile(
                start, np.zeros_like(counts), np.zeros_like(scores), np.full_like(scores, -np.inf)
            )
            self._profiles[key] = profile
        profile.counts += counts
        profile.score_sum += scores
        np.maximum(profile.score_max, scores, out=profile.score_max)
        profile.batches += 1
        profile.rows += len(matrix)
        profile.touched = time.monotonic()

    def _flush_profiles(self, *, idle: bool) -> None:
        now = time.monotonic()
        for key, profile in list(self._profiles.items()):
            if not idle or now - profile.touched >= _IDLE_FLUSH_S:
                self._write("profiles", _profile_line(key, profile))
                del self._profiles[key]
        for file in self._files.values():
            file.flush()

    def _write(self, kind: str, record: dict[str, Any]) -> None:
        file = self._files.get(kind)
        if file is None:
            # Buffered, not one write(2) per line as the capture: summaries are flushed every
            # few seconds off the request path, and each worker appends to files of its own.
            self.folder.mkdir(parents=True, exist_ok=True)
            file = self._files[kind] = (self.folder / new_file_name(kind)).open("ab")
        file.write(orjson.dumps(record) + b"\n")
        if file.tell() >= self.max_file_bytes:
            file.close()
            del self._files[kind]


def _profile_line(key: tuple[str, str, str], profile: _Profile) -> dict[str, Any]:
    phase, prob, version = key
    return {
        "t": profile.start,
        "phase": phase,
        "prob": prob,
        "v": version,
        "batches": profile.batches,
        "rows": profile.rows,
        "counts": profile.counts.astype(np.int64).tolist(),
        "score_sum": np.round(profile.score_sum, 3).tolist(),
        "score_max": np.round(profile.score_max, 3).tolist(),
    }
