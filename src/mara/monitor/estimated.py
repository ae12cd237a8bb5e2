"""Estimated performance as the pages show it: per version and hour, beside the realized.

Estimating re-scores captured rows and fits a domain classifier per window, seconds of work
a page that refreshes every 5 s must not wait for: the server computes in one background
thread, at most every `ttl_s`, and a page shows the last finished result (and says when it
is still being computed). `mara report` computes once, in the foreground.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from mara.capture import CaptureIndex
from mara.errors import MaraError
from mara.home import Problem

__all__ = ["EstimatedPerformance", "estimated_rows"]

log = logging.getLogger(__name__)
HORIZON_S = 24 * 3600.0
WINDOW_S = 3600.0
# A sample of each window is enough for a page; its band is then a little wider.
PAGE_MAX_ROWS = 5_000


def estimated_rows(home: Path, problem: Problem) -> tuple[list, str]:
    """Estimates per (version that served, hour) over the last day of traffic, and a note.

    Each version is estimated on the batches it answered. A failure (no table, no such
    version any more) is the note, not an error: the page shows what it can.
    """
    from mara.estimate import estimate_windows

    batches = CaptureIndex(Path(home), problem.phase, problem.prob).refresh().batches()
    if batches.empty:
        return [], "no captured traffic yet"
    latest = float(batches["received_at"].max())
    since = np.floor((latest - HORIZON_S) / WINDOW_S + 1) * WINDOW_S
    recent = batches[batches["received_at"] >= since]
    found, notes = [], []
    for version in _versions(recent["model_version"]):
        try:
            found += estimate_windows(
                home,
                problem.phase,
                problem.prob,
                version,
                since_ns=int(since * 1e9),
                window_s=WINDOW_S,
                served_by=version,
                max_rows=PAGE_MAX_ROWS,
            )
        except MaraError as exc:
            notes.append(f"v{version}: {exc}")
    found.sort(key=lambda e: (e.start_ns or 0, e.version))
    return found, "; ".join(notes)


class EstimatedPerformance:
    """The server's estimates per problem, recomputed off the request path."""

    def __init__(self, home: Path, *, ttl_s: float = 300.0):
        self.home = Path(home)
        self.ttl_s = ttl_s
        self._done: dict[Problem, tuple[float, list, str]] = {}
        self._running: set[Problem] = set()
        self._lock = threading.Lock()

    def rows(self, problem: Problem) -> tuple[list, str] | None:
        """The last finished estimates and note; None while the first is computed."""
        with self._lock:
            done = self._done.get(problem)
            stale = done is None or time.monotonic() - done[0] >= self.ttl_s
            if stale and problem not in self._running:
                self._running.add(problem)
                threading.Thread(
                    target=self._compute,
                    args=(problem,),
                    daemon=True,
                    name=f"mara-estimate-{problem.phase}-{problem.prob}",
                ).start()
        return None if done is None else (done[1], done[2])

    def _compute(self, problem: Problem) -> None:
        try:
            found, note = estimated_rows(self.home, problem)
        except Exception as exc:  # a page must keep working whatever one estimate does
            log.exception("estimating %s failed", problem)
            found, note = [], f"estimating failed: {exc}"
        with self._lock:
            self._done[problem] = (time.monotonic(), found, note)
            self._running.discard(problem)


def _versions(values: Iterable[str]) -> list[str]:
    return sorted({str(v) for v in values if str(v).isdigit()}, key=int)
