"""A metric expected from calibrated probabilities, drawn labels for its band, and the realized one.

With q_i the calibrated probability that row i is positive (binary) or that the model's top
class is right (multiclass), the expected accuracy is the mean of q, and the expected AUC of
the served scores s is the share of (positive, negative) pairs ranked right, each pair
weighted by q_i (1 - q_j): NannyML's CBPE in closed form. Labels drawn from q give the spread
the realized metric would have if q were right.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from scipy.stats import rankdata

__all__ = ["expected_accuracy", "expected_auc", "metric_draws", "realized_accuracy", "realized_auc"]


def expected_auc(scores: np.ndarray, q: np.ndarray) -> float:
    """E[AUC] of `scores` when row i is positive with probability q_i (ties count half)."""
    order = np.argsort(scores, kind="stable")
    s, q = scores[order], q[order]
    w = 1.0 - q
    # Distinct score values: the negative weight strictly below each, and within each tie.
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    q_tie, w_tie = np.add.reduceat(q, starts), np.add.reduceat(w, starts)
    below = np.cumsum(w_tie) - w_tie
    # A row is never paired with itself: drop its own half-counted tie.
    right = float(np.sum(q_tie * (below + 0.5 * w_tie)) - 0.5 * np.sum(q * w))
    pairs = float(q.sum() * w.sum() - np.sum(q * w))
    return right / pairs if pairs > 0 else float("nan")


def expected_accuracy(q: np.ndarray) -> float:
    """E[accuracy] when the top class of row i is right with probability q_i."""
    return float(np.mean(q)) if len(q) else float("nan")


def metric_draws(
    metric: str, scores: np.ndarray, q: np.ndarray, draws: int, rng: np.random.Generator
) -> np.ndarray:
    """The metric over `draws` label sets drawn from q (AUC: draws of one class are dropped)."""
    if metric == "accuracy":
        return np.concatenate(
            [(rng.random((n, len(q))) < q).mean(axis=1) for n in _chunks(draws, len(q))]
        )
    ranks = rankdata(scores)
    found = []
    for n in _chunks(draws, len(q)):
        labels = rng.random((n, len(q))) < q
        positives = labels.sum(axis=1)
        negatives = len(q) - positives
        with np.errstate(divide="ignore", invalid="ignore"):
            auc = (labels @ ranks - positives * (positives + 1) / 2) / (positives * negatives)
        found.append(auc[np.isfinite(auc)])
    return np.concatenate(found)


def realized_auc(scores: np.ndarray, positive: np.ndarray) -> float | None:
    """AUC of `scores` against true labels; None when the rows hold one class."""
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    rank_sum = float(rankdata(scores)[positive].sum())
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def realized_accuracy(right: np.ndarray) -> float | None:
    """Share of rows whose top class was right; None without rows."""
    return float(right.mean()) if len(right) else None


def _chunks(draws: int, n: int) -> Iterator[int]:
    # Bounded memory: at most about four million drawn labels at a time.
    per_chunk = max(1, 4_000_000 // max(n, 1))
    for start in range(0, draws, per_chunk):
        yield min(per_chunk, draws - start)
