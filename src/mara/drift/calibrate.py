"""The null distribution of the batch statistics, drawn from the training rows themselves.

At each calibrated batch size, many batches are drawn without replacement from the training
rows, and each is compared with the frequencies of the training rows *without it*: a fresh
batch against a reference that never saw it, exactly the situation of a served batch from the
training distribution, noise of both included. One set of batches gives each statistic's mean
and spread there; a second, independent set gives the threshold on the largest standardized
statistic as a conformal quantile, so such a batch exceeds it at most alpha of the time.
Between calibrated sizes everything is interpolated in log size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mara.drift.reference import Reference

__all__ = ["NullModel", "calibrate"]

# Cells gathered per chunk of calibration batches: enough to amortize numpy's per-call cost,
# few enough to keep the chunk's memory small (16 MB).
_CHUNK_CELLS = 2_000_000
# A statistic that never varied in calibration (a constant feature) still needs a spread.
_MIN_CV = 0.01


@dataclass(frozen=True, eq=False)
class NullModel:
    """Each statistic's null mean and spread, and the threshold, at each calibrated size."""

    sizes: np.ndarray  # calibrated batch sizes, increasing
    log_mean: np.ndarray  # (sizes, components) log of each statistic's null mean
    cv: np.ndarray  # (sizes, components) its coefficient of variation
    threshold: np.ndarray  # (sizes,) conformal threshold on the largest z-score

    def z_scores(self, components: np.ndarray, n_rows: int) -> np.ndarray:
        """Standardize statistics of a batch of `n_rows` rows (clamped to calibrated sizes)."""
        mean = np.exp(self._at(self.log_mean, n_rows))
        return _standardize(components, mean, self._at(self.cv, n_rows))

    def threshold_at(self, n_rows: int) -> float:
        """The threshold for a batch of `n_rows` rows (clamped to calibrated sizes)."""
        return float(self._at(self.threshold, n_rows))

    def _at(self, table: np.ndarray, n_rows: int) -> np.ndarray:
        """Linear interpolation of a per-size table in log size, constant beyond the ends."""
        log_sizes = np.log(self.sizes)
        x = min(max(math.log(max(n_rows, 1)), log_sizes[0]), log_sizes[-1])
        i = int(np.searchsorted(log_sizes, x, side="right")) - 1
        if i == len(log_sizes) - 1:
            return table[i]
        w = (x - log_sizes[i]) / (log_sizes[i + 1] - log_sizes[i])
        return (1 - w) * table[i] + w * table[i + 1]


def calibrate(
    reference: Reference,
    X: np.ndarray,
    *,
    sizes: Sequence[int],
    n_batches: int,
    alpha: float,
    rng: np.random.Generator,
) -> NullModel:
    """Fit the null model on the training rows `reference` was fitted on."""
    sizes = np.asarray(sorted(sizes), dtype=np.intp)
    codes = np.ascontiguousarray(reference.encode(X).T)
    moments = _null_components(reference, codes, sizes, n_batches, rng)
    mean = np.maximum(moments.mean(axis=1), 1e-12)
    cv = np.maximum(moments.std(axis=1) / mean, _MIN_CV)

    # Conformal: with the threshold at the ceil((1-alpha)(M+1))-th smallest of M exchangeable
    # null maxima, a new null batch exceeds it with probability at most alpha.
    held_out = _null_components(reference, codes, sizes, n_batches, rng)
    rank = math.ceil((1 - alpha) * (n_batches + 1))
    threshold = np.empty(len(sizes))
    for g in range(len(sizes)):
        maxima = np.sort(_standardize(held_out[g], mean[g], cv[g]).max(axis=1))
        threshold[g] = maxima[rank - 1]
    return NullModel(sizes=sizes, log_mean=np.log(mean), cv=cv, threshold=threshold)


def _standardize(components: np.ndarray, mean: np.ndarray, cv: np.ndarray) -> np.ndarray:
    # Each statistic is taken as a scaled chi-square with its null mean and spread
    # (Satterthwaite), then mapped to a normal deviate by the Wilson-Hilferty cube root,
    # so statistics with different degrees of freedom share one scale.
    h = cv**2 / 9
    return (np.cbrt(components / mean) - 1 + h) / np.sqrt(h)


def _null_components(
    reference: Reference,
    codes: np.ndarray,
    sizes: np.ndarray,
    n_batches: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Statistics of `n_batches` null batches at each size: (sizes, batches, components).

    Batch b at every size is a prefix of the same random ordering of the held-out rows, so
    each ordering is counted once, segment by segment, and the prefix counts are cumulative
    sums of the segment counts.
    """
    n_rows, n_features = codes.shape
    n_max, n_sizes, n_bins = int(sizes[-1]), len(sizes), reference.n_bins
    segment = np.searchsorted(sizes, np.arange(n_max), side="right")
    out = np.empty((n_sizes, n_batches, reference.n_components))
    chunk = max(1, _CHUNK_CELLS // (n_max * n_features))
    for start in range(0, n_batches, chunk):
        stop = min(start + chunk, n_batches)
        rows = np.stack([rng.choice(n_rows, n_max, replace=False) for _ in range(start, stop)])
        slot = (np.arange(stop - start)[:, None] * n_sizes + segment) * n_bins
        keys = np.take(codes, rows, axis=0)  # faster than codes[rows] for a row gather
        keys += slot[:, :, None]
        counts = np.bincount(keys.ravel(), minlength=(stop - start) * n_sizes * n_bins)
        counts = counts.reshape(stop - start, n_sizes, n_bins).cumsum(axis=1).astype(float)
        for g, n in enumerate(sizes):
            frequency = reference.frequency_without(counts[:, g])
            out[g, start:stop] = reference.components(counts[:, g], int(n), frequency)
    return out
