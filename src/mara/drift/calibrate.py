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

# Cells gathered per chunk of calibration batches: big enough to amortize numpy's overhead,
# small enough to stay in cache and far from memory limits.
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
        i, w = self._position(n_rows)
        log_mean = (1 - w) * self.log_mean[i] + w * self.log_mean[i + 1]
        cv = (1 - w) * self.cv[i] + w * self.cv[i + 1]
        return _standardize(components, np.exp(log_mean), cv)

    def threshold_at(self, n_rows: int) -> float:
        """The threshold for a batch of `n_rows` rows (clamped to calibrated sizes)."""
        i, w = self._position(n_rows)
        return float((1 - w) * self.threshold[i] + w * self.threshold[i + 1])

    def _position(self, n_rows: int) -> tuple[int, float]:
        if len(self.sizes) == 1:
            return 0, 0.0
        log_sizes = np.log(self.sizes)
        x = min(max(math.log(max(n_rows, 1)), log_sizes[0]), log_sizes[-1])
        i = min(int(np.searchsorted(log_sizes, x, side="right")) - 1, len(self.sizes) - 2)
        return i, float((x - log_sizes[i]) / (log_sizes[i + 1] - log_sizes[i]))


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
        keys = codes[rows] + slot[:, :, None]
        counts = np.bincount(keys.ravel(), minlength=(stop - start) * n_sizes * n_bins)
        counts = counts.reshape(stop - start, n_sizes, n_bins).cumsum(axis=1).astype(float)
        for g, n in enumerate(sizes):
            frequency = reference.frequency_without(counts[:, g])
            out[g, start:stop] = reference.components(counts[:, g], int(n), frequency)
    return out
