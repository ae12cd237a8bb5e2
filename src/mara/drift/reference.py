"""The training distribution a batch is compared with, and the statistics of that comparison.

Every feature gets a few bins: numeric features get training-quantile bins plus a missing bin;
categorical features get one bin per frequent category, one for the rare ones grouped, one for
categories unseen in training and one for missing. A batch is reduced to its bin counts, and
every statistic below is a function of those counts alone, so the same code scores one request
and thousands of calibration batches.

The statistics ("components"), each near zero for a batch like the training data:

- per feature, the G-test (likelihood ratio) of the batch's bin counts against the training
  frequencies: any change of shape, missing rate or category mix;
- per numeric feature, the squared score of a rank-sum test (a location shift) and of a
  quadratic-rank test (a scale change), computed on the bins; both are far more powerful
  than the G-test for the shifts they target;
- three sums of the above over features, for changes spread thinly over many features.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

__all__ = ["RARE_SHARE", "Reference", "fit_reference"]

# Categories rarer than this in training share one bin: a level a 1,000-row batch holds fewer
# than five times makes the statistic's null tail heavy at small batches and says little.
RARE_SHARE = 0.005
# Added to every bin count before taking frequencies, so a bin never seen in training (an
# unseen category, a first missing value) has a small positive frequency, not zero.
_PRIOR_COUNT = 0.5


@dataclass(frozen=True, eq=False)
class Reference:
    """Bins fitted on training rows, their frequencies, and the batch statistics on them."""

    n_features: int
    numeric: np.ndarray  # column index of each numeric feature
    edges: np.ndarray  # (n_edges, n_numeric) float32 inner bin edges, NaN-padded
    n_value_bins: np.ndarray  # uint8 value bins of each numeric feature (missing bin follows)
    categorical: np.ndarray  # column index of each categorical feature
    max_code: np.ndarray  # K of each categorical feature: code K is unseen, K + 1 missing
    code_start: np.ndarray  # where each categorical feature's codes start in `code_bin`
    code_bin: np.ndarray  # global bin of each (feature, code)
    bin_start: np.ndarray  # first global bin of each feature, in column order
    missing_bin: np.ndarray  # global missing bin of each feature
    train_counts: np.ndarray  # training rows in every bin
    frequency: np.ndarray  # training frequency of every bin; each feature's bins sum to 1
    location: np.ndarray  # rank-sum score of every bin (0 outside numeric value bins)
    scale: np.ndarray  # quadratic-rank score of every bin (0 outside numeric value bins)

    @property
    def n_bins(self) -> int:
        """Bins over all features."""
        return len(self.frequency)

    @property
    def n_components(self) -> int:
        """Statistics per batch: one G per feature, two per numeric feature, three sums."""
        return self.n_features + 2 * len(self.numeric) + 3

    def encode(self, X: np.ndarray) -> np.ndarray:
        """The global bin of every cell, as a (n_features, n_rows) array."""
        n_numeric = len(self.numeric)
        bins = np.empty((self.n_features, len(X)), dtype=np.intp)
        # float32 and uint8 halve the memory traffic of the compare-and-add loop, its cost.
        numeric = X.T[self.numeric].astype(np.float32)
        # A missing cell starts at its feature's missing bin and stays there, as NaN compares
        # False with every edge; so do the NaN edges padding features with fewer bins.
        local = np.isnan(numeric) * self.n_value_bins[:, None]
        above = np.empty(numeric.shape, dtype=bool)
        for edge in self.edges:
            np.greater_equal(numeric, edge[:, None], out=above)
            local += above.view(np.uint8)
        np.add(local, self.bin_start[self.numeric][:, None], out=bins[:n_numeric])

        codes = X.T[self.categorical]
        max_code = self.max_code[:, None]
        # np.minimum/np.maximum pass NaN through, and cost a fraction of np.clip on small arrays.
        inside = np.minimum(np.maximum(codes, 0), max_code)
        codes = np.where(np.isnan(codes), max_code + 1, inside)
        bins[n_numeric:] = self.code_bin[codes.astype(np.intp) + self.code_start[:, None]]
        return bins

    def counts(self, X: np.ndarray) -> np.ndarray:
        """How many of the batch's cells fall in each bin."""
        return np.bincount(self.encode(X).ravel(), minlength=self.n_bins).astype(float)

    def frequency_without(self, counts: np.ndarray) -> np.ndarray:
        """Bin frequencies of the training rows left once batches with `counts` are taken out."""
        return _frequency(self.train_counts - counts, self.bin_start)

    def components(
        self, counts: np.ndarray, n_rows: int, frequency: np.ndarray | None = None
    ) -> np.ndarray:
        """Statistics of batches of `n_rows` rows from their counts: (batches, components).

        `frequency` is what the batches are compared with, one row per batch or shared
        (default: the training frequencies).
        """
        frequency = self.frequency if frequency is None else frequency
        # x log(x / e) with 0 log 0 = 0: empty bins add nothing to G.
        ratio = np.divide(counts, n_rows * frequency, out=np.ones_like(counts), where=counts > 0)
        g = 2.0 * np.add.reduceat(counts * np.log(ratio), self.bin_start, axis=1)

        columns, missing = self.numeric, self.missing_bin[self.numeric]
        present = n_rows - counts[:, missing]
        root = np.sqrt(np.maximum(present, 1.0))
        value_share = 1.0 - frequency[..., missing]
        stats = []
        for score in (self.location, self.scale):
            total = np.add.reduceat(counts * score, self.bin_start, axis=1)[:, columns]
            mean = np.add.reduceat(frequency * score, self.bin_start, axis=-1)[..., columns]
            stats.append(((total - present * mean / value_share) / root) ** 2)
        location, scale = stats
        sums = np.stack([g.sum(axis=1), location.sum(axis=1), scale.sum(axis=1)], axis=1)
        return np.concatenate([g, location, scale, sums], axis=1)


def fit_reference(
    X: np.ndarray, *, categorical: Sequence[bool], n_categories: Sequence[int], n_bins: int
) -> Reference:
    """Bins and frequencies from training rows (numeric: NaN missing; categorical: codes)."""
    is_categorical = np.asarray(categorical, dtype=bool)
    numeric = np.flatnonzero(~is_categorical)
    cat_columns = np.flatnonzero(is_categorical)
    levels = np.linspace(0.0, 1.0, n_bins + 1)[1:-1]

    edges = []
    for j in numeric:
        values = X[:, j][np.isfinite(X[:, j])]
        quantiles = np.quantile(values, levels) if len(values) else np.empty(0)
        edges.append(np.unique(quantiles.astype(np.float32)))
    n_value_bins = np.array([len(e) + 1 for e in edges], dtype=np.uint8)
    edge_table = np.full(
        (max([len(e) for e in edges], default=0), len(numeric)), np.nan, dtype=np.float32
    )
    for i, e in enumerate(edges):
        edge_table[: len(e), i] = e

    # Per categorical feature, a map from code (0..K-1, K unseen, K+1 missing) to a local bin.
    max_code = np.asarray(n_categories, dtype=np.intp)
    code_maps, doubletons = [], []
    for j, k in zip(cat_columns, max_code, strict=True):
        codes = X[:, j]
        seen = np.bincount(codes[(codes >= 0) & (codes < k)].astype(np.intp), minlength=k)
        frequent = seen >= RARE_SHARE * len(codes)
        local = np.cumsum(frequent) - 1
        n_frequent = int(frequent.sum())
        has_rare = n_frequent < k
        local[~frequent] = n_frequent
        tail = n_frequent + has_rare
        # A long tail of levels keeps bringing levels training never saw. A level seen once
        # stands for them (Good-Turing): it shares the unseen bin, so batches drawn from the
        # training rows in calibration land there about as often as served batches do.
        local[seen == 1] = tail
        doubletons.append(int(np.count_nonzero(seen == 2)))
        code_maps.append(np.concatenate([local, [tail, tail + 1]]))

    sizes = np.zeros(len(is_categorical), dtype=np.intp)
    sizes[numeric] = n_value_bins + 1
    sizes[cat_columns] = [m[-1] + 1 for m in code_maps]
    bin_start = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.intp)
    missing_bin = bin_start + sizes - 1
    code_start = np.concatenate([[0], np.cumsum([len(m) for m in code_maps])[:-1]])
    code_bin = (
        np.concatenate(
            [m + bin_start[j] for j, m in zip(cat_columns, code_maps, strict=True)]
        ).astype(np.intp)
        if code_maps
        else np.empty(0, dtype=np.intp)
    )

    n_bins_total = int(sizes.sum())
    binning = Reference(
        n_features=len(is_categorical),
        numeric=numeric,
        edges=edge_table,
        n_value_bins=n_value_bins,
        categorical=cat_columns,
        max_code=max_code,
        code_start=code_start.astype(np.intp),
        code_bin=code_bin,
        bin_start=bin_start,
        missing_bin=missing_bin,
        train_counts=np.zeros(n_bins_total),
        frequency=np.ones(n_bins_total),
        location=np.zeros(n_bins_total),
        scale=np.zeros(n_bins_total),
    )
    train_counts = binning.counts(X)
    # Served rows reach the unseen bin with the levels seen once too: by Good-Turing, their
    # share is about twice the number of levels seen twice, over the rows.
    unseen_bin = binning.code_bin[binning.code_start + max_code]
    train_counts[unseen_bin] += 2 * np.asarray(doubletons, dtype=float)
    frequency = _frequency(train_counts, bin_start)
    location, scale = np.zeros(n_bins_total), np.zeros(n_bins_total)
    for j, n_values in zip(numeric, n_value_bins, strict=True):
        values = slice(bin_start[j], bin_start[j] + n_values)
        location[values], scale[values] = _rank_scores(frequency[values])
    return replace(
        binning, train_counts=train_counts, frequency=frequency, location=location, scale=scale
    )


def _rank_scores(frequency: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Linear and quadratic rank scores of ordered bins, centred and scaled to unit variance.

    A row's score is a function of its bin's mid-rank u; the first two orthonormal polynomials
    in u under the training frequencies give Neyman's smooth test of order two, whose
    components are the Wilcoxon (location) and Mood-like (scale) statistics.
    """
    p = frequency / frequency.sum()
    u = np.cumsum(p) - p / 2
    basis = []
    for raw in (u, u**2):
        v = raw - p @ raw
        for b in basis:
            v = v - (p @ (v * b)) * b
        norm = np.sqrt(p @ v**2)
        # Too few bins for this polynomial (one bin has no location, two have no scale).
        basis.append(v / norm if norm > 1e-9 else np.zeros_like(v))
    return basis[0], basis[1]


def _frequency(counts: np.ndarray, bin_start: np.ndarray) -> np.ndarray:
    """Frequencies within each feature's bins, after adding the prior count to every bin."""
    counts = counts + _PRIOR_COUNT
    totals = np.add.reduceat(counts, bin_start, axis=-1)
    sizes = np.diff(np.append(bin_start, counts.shape[-1]))
    return counts / np.repeat(totals, sizes, axis=-1)
