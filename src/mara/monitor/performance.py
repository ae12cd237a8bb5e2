"""Model performance as the pages show it: realized where labels have been joined.

Realized metrics come from the label ledger joined to the captured batches by the one reader
of captured traffic: the predictions each version actually served, against the labels that
came later, per version and hour of capture.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from mara.capture import CaptureIndexes
from mara.home import Problem
from mara.labels import LabelLedger, labelled_rows, positive_class
from mara.monitor.aggregate import PerformanceRow, performance_rows

__all__ = ["RealizedPerformance", "realized_metrics", "realized_performance"]

WINDOW_S = 3600.0


def realized_metrics(
    joined: Any, classes: Sequence[Any], *, window_s: float = WINDOW_S
) -> dict[tuple[str, float], dict[str, float]]:
    """Per (model version, window start): labelled rows and AUC (binary) or accuracy.

    `joined` holds one row per labelled served row: `model_version`, `received_at`,
    `prediction` (as served) and `label`. A binary window with one class has no AUC.
    """
    out: dict[tuple[str, float], dict[str, float]] = {}
    if len(joined) == 0:
        return out
    starts = np.floor(joined["received_at"].to_numpy(dtype=float) / window_s) * window_s
    binary = len(classes) == 2
    positive = positive_class(classes) if binary else None
    for (version, start), part in joined.groupby([joined["model_version"], starts]):
        metrics = {"labelled rows": float(len(part))}
        if binary:
            truth = (part["label"] == positive).to_numpy()
            if truth.any() and not truth.all():
                metrics["auc"] = float(roc_auc_score(truth, part["prediction"].astype(float)))
        else:
            served = part["prediction"].astype(str).to_numpy()
            metrics["accuracy"] = float((served == part["label"].astype(str).to_numpy()).mean())
        out[(str(version), float(start))] = metrics
    return out


class RealizedPerformance:
    """Realized metrics per problem, recomputed at most every `ttl_s` (pages refresh often)."""

    def __init__(self, home: Path, *, indexes: CaptureIndexes | None = None, ttl_s: float = 30.0):
        self.home = Path(home)
        self.indexes = indexes or CaptureIndexes(home)
        self.ttl_s = ttl_s
        self._cache: dict[Problem, tuple[float, list[PerformanceRow]]] = {}
        self._lock = threading.Lock()

    def rows(self, problem: Problem, classes: Sequence[Any]) -> list[PerformanceRow]:
        """The problem's realized metrics, oldest window first."""
        with self._lock:
            cached = self._cache.get(problem)
            if cached is not None and time.monotonic() - cached[0] < self.ttl_s:
                return cached[1]
        labels = LabelLedger(self.home, problem.phase, problem.prob).read()
        with self.indexes.use(problem) as index:
            joined = labelled_rows(index, labels, ())
        rows = realized_performance(realized_metrics(joined, classes))
        with self._lock:
            self._cache[problem] = (time.monotonic(), rows)
        return rows


def realized_performance(
    realized: Mapping[tuple[str, float], Mapping[str, float]] | None = None,
) -> list[PerformanceRow]:
    """Realized metrics per (model version, window start), oldest first."""
    return performance_rows(realized or {})
