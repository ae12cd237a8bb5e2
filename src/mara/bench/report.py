"""What a bench run measured: tallying answers, scoring them, and a table for the terminal."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
from rich.table import Table

from mara.labels import positive_class

__all__ = ["BenchResult", "Tally", "looks_like_probabilities", "render", "score_predictions"]

MAX_ERROR_SAMPLES = 5


@dataclass(frozen=True)
class BenchResult:
    """Counts, latency percentiles, throughput and score of one bench run.

    Latencies, percentiles and throughput count only requests answered within the contract, so
    a server that fails fast does not look fast. Percentiles are None when no request succeeded;
    ``score``/``metric`` are None when no correctly answered request carried labels.
    """

    requests: int
    rows: int
    errors: int
    error_samples: tuple[str, ...]
    latencies_ms: np.ndarray = field(repr=False, compare=False)
    wall_s: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    requests_per_s: float
    rows_per_s: float
    score: float | None
    metric: str | None
    drift_flags: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary; the raw latencies are left out (see ``latencies_ms``)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "latencies_ms"}
        out["error_samples"] = list(self.error_samples)
        return out


class Tally:
    """Accumulates answers as they arrive; ``result()`` freezes them into a BenchResult."""

    def __init__(self) -> None:
        self.requests = self.rows = self.errors = self.drift_flags = 0
        self.ok_rows = 0
        self.error_samples: list[str] = []
        self.latencies_ms: list[float] = []
        self.y_true: list[Any] = []
        self.y_pred: list[Any] = []

    def add_ok(
        self,
        n_rows: int,
        labels: Sequence[Any] | None,
        latency_ms: float,
        predictions: list[Any],
        drift: int,
    ) -> None:
        """Record an answer that met the contract."""
        self.requests += 1
        self.rows += n_rows
        self.ok_rows += n_rows
        self.latencies_ms.append(latency_ms)
        self.drift_flags += drift
        if labels is not None:
            self.y_true.extend(labels)
            self.y_pred.extend(predictions)

    def add_error(self, n_rows: int, message: str) -> None:
        """Record a failed request; the first few distinct messages are kept as samples."""
        self.requests += 1
        self.rows += n_rows
        self.errors += 1
        if len(self.error_samples) < MAX_ERROR_SAMPLES and message not in self.error_samples:
            self.error_samples.append(message)

    def result(self, wall_s: float) -> BenchResult:
        """Summarize everything recorded over ``wall_s`` seconds."""
        latencies = np.asarray(self.latencies_ms, dtype=float)
        p50 = p95 = p99 = None
        if latencies.size:
            p50, p95, p99 = (float(v) for v in np.percentile(latencies, [50, 95, 99]))
        score, metric = score_predictions(self.y_true, self.y_pred)
        ok = self.requests - self.errors
        return BenchResult(
            requests=self.requests,
            rows=self.rows,
            errors=self.errors,
            error_samples=tuple(self.error_samples),
            latencies_ms=latencies,
            wall_s=wall_s,
            p50_ms=p50,
            p95_ms=p95,
            p99_ms=p99,
            requests_per_s=ok / wall_s if wall_s > 0 else 0.0,
            rows_per_s=self.ok_rows / wall_s if wall_s > 0 else 0.0,
            score=score,
            metric=metric,
            drift_flags=self.drift_flags,
        )


def looks_like_probabilities(values: Sequence[Any]) -> bool:
    """True for non-empty numbers with at least one float.

    A probability server writes floats (0.0, not 0), while a multiclass server with integer
    labels writes ints; the float requirement keeps labels 0/1/2 from being read as probabilities.
    """
    if not values or not all(_is_number(v) for v in values):
        return False
    return any(isinstance(v, float) for v in values)


def score_predictions(
    y_true: Sequence[Any], y_pred: Sequence[Any]
) -> tuple[float | None, str | None]:
    """ROC AUC for two classes and probability predictions, otherwise accuracy.

    The positive class is the one mara's models report (`mara.labels.positive_class`).
    Returns ``(score, metric)``, or ``(None, None)`` when there is nothing to score.
    """
    if not y_true:
        return None, None
    classes = {_key(v): v for v in y_true}
    if len(classes) == 2 and looks_like_probabilities(y_pred):
        try:
            positive = positive_class(list(classes.values()))
        except TypeError:  # labels of mixed types cannot be sorted
            positive = None
        if positive is not None:
            # sklearn costs a second to import; runs without labels never pay for it
            from sklearn.metrics import roc_auc_score

            y_bin = [_key(v) == _key(positive) for v in y_true]
            return float(roc_auc_score(y_bin, y_pred)), "auc"
    hits = sum(_key(t) == _key(p) for t, p in zip(y_true, y_pred, strict=True))
    return hits / len(y_true), "accuracy"


def render(result: BenchResult) -> Table:
    """A two-column table of the run, error samples last, for ``rich`` to print."""
    table = Table(title="mara bench", show_header=False, title_justify="left")
    table.add_column("measure", style="bold")
    table.add_column("value", justify="right")
    ok = result.requests - result.errors
    table.add_row("requests", f"{result.requests} ({ok} ok)")
    table.add_row("rows", str(result.rows))
    table.add_row("errors", f"[red]{result.errors}[/red]" if result.errors else "0")
    table.add_row("wall time", f"{result.wall_s:.2f} s")
    table.add_row(
        "latency p50 / p95 / p99",
        f"{_ms(result.p50_ms)} / {_ms(result.p95_ms)} / {_ms(result.p99_ms)} ms",
    )
    throughput = f"{result.requests_per_s:.1f} req/s, {result.rows_per_s:.0f} rows/s"
    table.add_row("throughput", throughput)
    table.add_row("drift flags", str(result.drift_flags))
    score = "-" if result.score is None else f"{result.metric} {result.score:.4f}"
    table.add_row("score", score)
    if result.error_samples:
        table.add_section()
        for message in result.error_samples:
            table.add_row("[red]error[/red]", message)
    return table


def _is_number(value: Any) -> bool:
    # bool is an int subclass, but JSON true is not a number
    return isinstance(value, int | float) and not isinstance(value, bool)


def _key(value: Any) -> tuple[bool, Any]:
    # compare as JSON values: true != 1 although True == 1 in Python
    return isinstance(value, bool), value


def _ms(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.1f}"
