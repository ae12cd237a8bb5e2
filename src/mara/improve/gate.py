"""The gate: is a challenger better than the champion on recent traffic, with confidence?

Champion and challenger are scored on the same rows, and the difference of their metric is
bootstrapped over those rows with the pairing kept (each resample scores both models on the
same rows), which cancels the rows' shared difficulty and makes the interval much narrower
than comparing two separate intervals.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import rankdata
from sklearn.metrics import roc_auc_score

from mara.labels import positive_class

__all__ = ["GateDecision", "GateRule", "MetricDifference", "paired_bootstrap"]


@dataclass(frozen=True)
class MetricDifference:
    """Challenger minus champion on one set of rows, with a bootstrap interval."""

    metric: str
    champion: float
    challenger: float
    low: float
    high: float
    rows: int

    @property
    def difference(self) -> float:
        """Challenger minus champion, on all the rows."""
        return self.challenger - self.champion


def paired_bootstrap(
    champion: Sequence[Any],
    challenger: Sequence[Any],
    labels: Sequence[Any],
    classes: list[Any],
    *,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> MetricDifference:
    """AUC (binary) or accuracy (multiclass) of both models, and the interval of the gain.

    A resample holding one class only has no AUC; it is drawn again (stratified resampling
    would narrow the interval, plain redraws keep it honest). ValueError when the rows
    themselves hold one class only.
    """
    rng = np.random.default_rng(seed)
    tail = (1 - confidence) / 2
    if len(classes) == 2:
        positive = positive_class(classes)
        truth = np.asarray([label == positive for label in labels], dtype=bool)
        if truth.all() or not truth.any():
            raise ValueError("the rows hold one class only: AUC is undefined")
        a, b = np.asarray(champion, dtype=float), np.asarray(challenger, dtype=float)
        diffs = _auc_differences(a, b, truth, resamples, rng)
        metric, old, new = "auc", float(roc_auc_score(truth, a)), float(roc_auc_score(truth, b))
    else:
        truth_text = np.asarray([str(v) for v in labels])
        a_ok = np.asarray([str(v) for v in champion]) == truth_text
        b_ok = np.asarray([str(v) for v in challenger]) == truth_text
        gain = b_ok.astype(float) - a_ok.astype(float)
        diffs = np.concatenate(
            [gain[idx].mean(axis=1) for idx in _resample_chunks(len(gain), resamples, rng)]
        )
        metric, old, new = "accuracy", float(a_ok.mean()), float(b_ok.mean())
    low, high = np.quantile(diffs, [tail, 1 - tail])
    return MetricDifference(metric, old, new, float(low), float(high), len(labels))


def _auc_differences(
    a: np.ndarray, b: np.ndarray, truth: np.ndarray, resamples: int, rng: np.random.Generator
) -> np.ndarray:
    diffs: list[np.ndarray] = []
    found = 0
    while found < resamples:
        for idx in _resample_chunks(len(truth), resamples - found, rng):
            t = truth[idx]
            gain = _auc_rows(b[idx], t) - _auc_rows(a[idx], t)
            gain = gain[np.isfinite(gain)]  # a resample of one class: drawn again
            diffs.append(gain)
            found += len(gain)
    return np.concatenate(diffs)[:resamples]


def _auc_rows(scores: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """AUC of each row of a (resamples, n) matrix: the Mann-Whitney rank sum, ties averaged."""
    ranks = rankdata(scores, axis=1)
    positives = truth.sum(axis=1)
    negatives = truth.shape[1] - positives
    rank_sum = (ranks * truth).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def _resample_chunks(n: int, resamples: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    # Bounded memory: at most about four million drawn positions at a time.
    per_chunk = max(1, 4_000_000 // max(n, 1))
    for start in range(0, resamples, per_chunk):
        yield rng.integers(0, n, (min(per_chunk, resamples - start), n))


@dataclass(frozen=True)
class GateRule:
    """When a challenger replaces the champion.

    Promote when the lower bound of the gain on recent traffic exceeds `min_gain`, unless the
    challenger is worse on the original holdout by more than `holdout_tolerance` with the
    same confidence (the upper bound of its holdout difference below -tolerance). Both sides
    read intervals: a point estimate on a few thousand holdout rows moves by more than the
    tolerance between two fits of the same recipe.
    """

    min_gain: float = 0.0
    holdout_tolerance: float = 0.005

    def decide(
        self, recent: MetricDifference, holdout: MetricDifference, *, where: str = "recent"
    ) -> GateDecision:
        """The decision and the sentence that explains it (`where`: the later rows' name)."""
        name = recent.metric
        gain = (
            f"{where} {name} {recent.challenger:.4f} vs {recent.champion:.4f}, gain "
            f"{recent.difference:+.4f} [{recent.low:+.4f}, {recent.high:+.4f}] "
            f"on {recent.rows} rows"
        )
        loss = (
            f"{holdout.difference:+.4f} [{holdout.low:+.4f}, {holdout.high:+.4f}] {name} on the "
            "original holdout"
        )
        if recent.low <= self.min_gain:
            return GateDecision(
                False, f"{gain}: the interval's lower bound is not above {self.min_gain:+.4f}"
            )
        if holdout.high < -self.holdout_tolerance:
            return GateDecision(
                False,
                f"{gain}, but {loss}: worse beyond the tolerance of {self.holdout_tolerance:.4f}",
            )
        return GateDecision(True, f"{gain}; {loss}")


@dataclass(frozen=True)
class GateDecision:
    """Whether to promote, and why."""

    promote: bool
    reason: str
