"""ShadowScorer: the challenger scores live batches off the request path, within a CPU share.

The answer never waits for it: a batch is handed over with a non-blocking put on a small
queue (a full queue skips the batch, counted as `busy`), and one thread scores the queued
batches with the challenger's own preprocessing and forest. After each batch the thread
rests in proportion to the time it took, so that it uses at most `cpu_share` of one core
however much traffic arrives. Each scored batch is kept as one line in the capture's
`shadow/` stream, keyed by the request id, so it joins the captured batch and its labels. A
batch id the same challenger has been handed already (a client's retry, a replayed batch) is
not scored again: its line would join the same key, and repeats must not crowd new batches
out of that share.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mara.capture import CaptureWriter
from mara.home import Problem
from mara.serve import telemetry
from mara.serve.batch import Batch
from mara.serve.limits import DEFAULT_SHADOW_CPU_SHARE
from mara.serve.models import ServedModels

__all__ = ["SHADOW_STREAM", "ShadowScorer", "agreed_rows"]

log = logging.getLogger("mara.serve")

SHADOW_STREAM = "shadow"
# Batch ids remembered per worker as handed to the shadow (the latest ones): enough for any
# retry or replay within minutes of traffic, a few MB at most.
_REMEMBERED_IDS = 20_000


def agreed_rows(champion: Sequence[Any], challenger: Sequence[Any]) -> int:
    """Rows where both models decide alike: the same side of 0.5, or the same label."""
    if champion and isinstance(champion[0], float):
        return sum((a >= 0.5) == (b >= 0.5) for a, b in zip(champion, challenger, strict=True))
    return sum(a == b for a, b in zip(champion, challenger, strict=True))


@dataclass(frozen=True)
class _Job:
    problem: Problem
    champion_version: str
    batch: Batch
    predictions: Sequence[Any]
    received_at: float


class ShadowScorer:
    """Scores each problem's `challenger` on a sample of live batches, in the background."""

    def __init__(
        self,
        challengers: ServedModels,
        writer: CaptureWriter,
        *,
        sample: float = 1.0,
        cpu_share: float = DEFAULT_SHADOW_CPU_SHARE,
        queue_size: int = 4,
    ):
        if not 0 < cpu_share <= 1 or not 0 <= sample <= 1:
            raise ValueError("cpu_share must be in (0, 1] and sample in [0, 1]")
        self.challengers = challengers
        self.writer = writer
        self.sample = sample
        self.cpu_share = cpu_share
        self._queue: queue.Queue[_Job | None] = queue.Queue(maxsize=queue_size)
        self._random = random.Random()
        # Touched only on the event loop (submit), never by the scoring thread.
        self._handed: OrderedDict[tuple[Problem, str, str | int], None] = OrderedDict()
        self._thread = threading.Thread(target=self._run, name="mara-shadow", daemon=True)
        self._thread.start()

    def shadowing(self, problem: Problem, champion_version: str) -> str | None:
        """The challenger version scored beside this champion, or None."""
        challenger = self.challengers.find(problem)
        if challenger is None or challenger.version == champion_version:
            return None
        return challenger.version

    def submit(
        self,
        problem: Problem,
        champion_version: str,
        batch: Batch,
        predictions: Sequence[Any],
    ) -> None:
        """Offer a just-answered batch; returns at once whether or not it will be scored."""
        version = self.shadowing(problem, champion_version)
        if version is None or not batch.n_rows:
            return
        key = (problem, version, batch.id)
        if key in self._handed:
            telemetry.observe_shadow(problem, "repeated")
            return
        if self._random.random() >= self.sample:
            telemetry.observe_shadow(problem, "sampled_out")
            return
        job = _Job(problem, champion_version, batch, predictions, time.time())
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            telemetry.observe_shadow(problem, "busy")
            return
        self._handed[key] = None
        if len(self._handed) > _REMEMBERED_IDS:
            self._handed.popitem(last=False)

    def close(self, timeout_s: float = 5.0) -> None:
        """Score what is queued (within `timeout_s`), then stop the thread."""
        try:
            self._queue.put(None, timeout=timeout_s)
        except queue.Full:
            return
        self._thread.join(timeout_s)

    def _run(self) -> None:
        while (job := self._queue.get()) is not None:
            started = time.perf_counter()
            try:
                self._score(job)
            except Exception:  # a challenger that fails must never touch serving
                log.exception("%s: shadow scoring failed", job.problem)
                telemetry.observe_shadow(job.problem, "failed")
            spent = time.perf_counter() - started
            time.sleep(spent * (1 / self.cpu_share - 1))

    def _score(self, job: _Job) -> None:
        challenger = self.challengers.find(job.problem)
        if challenger is None:
            return
        started = time.perf_counter()
        bundle = challenger.bundle
        matrix, _ = bundle.prepare(job.batch.columns, job.batch.n_rows)
        predictions = bundle.predict_matrix(matrix)
        agreed = agreed_rows(job.predictions, predictions)
        self.writer.append(
            job.problem,
            {
                "id": job.batch.id,
                "received_at": job.received_at,
                "champion_version": job.champion_version,
                "version": challenger.version,
                "predictions": predictions,
                "agreed": agreed,
                "shadow_ms": round((time.perf_counter() - started) * 1000, 3),
            },
        )
        telemetry.observe_shadow(job.problem, "scored", len(predictions), agreed)
