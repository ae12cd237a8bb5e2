"""DriftDetector: fitted with the model on training rows, asked about every served batch.

A batch's drift statistic is the largest of its standardized component statistics (per
feature: a G-test of the bin counts and, for numeric features, location and scale rank
tests; plus three sums over features), so one feature shifting strongly and many features
shifting a little both raise it. The threshold is calibrated at each batch size on batches
drawn from the training rows, each compared with the training rows without it, so batches
from the training distribution are flagged at most `alpha` of the time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from mara.drift.calibrate import NullModel, calibrate
from mara.drift.reference import Reference, fit_reference
from mara.errors import DataError, NotFittedError

__all__ = [
    "DEFAULT_ALPHA",
    "DEFAULT_BATCH_SIZES",
    "MIN_BATCH_SIZE",
    "DriftDetector",
    "DriftReport",
]

DEFAULT_ALPHA = 0.01
DEFAULT_N_BINS = 20
MAX_N_BINS = 254  # bin numbers, missing included, are counted in uint8
DEFAULT_BATCH_SIZES = (10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
DEFAULT_NULL_BATCHES = 1000
# Smaller batches are flagged 0: no decision on them is worth making. Measured with 41 mixed
# features at alpha = 1%: one feature moved wholly out of its training range goes unflagged
# below 5 rows (87% flagged at 5, all from 6), and a one-sigma shift of one feature is caught
# in 3% of 7-row batches, 9% at 10, 49% at 20 and all at 50. Ten is where the issue's
# reference change starts to be caught well above the false-alarm rate.
MIN_BATCH_SIZE = 10
# A calibrated size is at most this share of the training rows. Calibration averages over the
# reference's own sampling noise, but a served batch meets one draw of it, whose effect grows
# with batch size over reference size. At a quarter the measured false-positive rate stays at
# or below alpha (the left-out reference is then smaller than the real one: the safe side).
MAX_SIZE_SHARE = 0.25


@dataclass(frozen=True)
class DriftReport:
    """The verdict on one batch, with what it rests on.

    `statistic` and `feature_scores` are on a normal-deviate scale: about 0 for a batch like
    the training data, and a feature above `threshold` is one that drifted on its own.
    `counts` are the batch's cells counted on the reference's bins when every row was scored
    (None when a large batch was scored on a subsample), for whoever profiles the batch next.
    """

    drift: int
    statistic: float
    threshold: float
    n_rows: int
    feature_scores: dict[str, float]
    counts: np.ndarray | None = field(default=None, repr=False, compare=False)

    def as_dict(self) -> dict:
        """JSON-native fields; a threshold that does not apply (too few rows) is None."""
        # Built by hand: dataclasses.asdict deep-copies every score, on every request.
        return {
            "drift": self.drift,
            "statistic": self.statistic,
            "threshold": self.threshold if math.isfinite(self.threshold) else None,
            "n_rows": self.n_rows,
            "feature_scores": dict(self.feature_scores),
        }


class DriftDetector:
    """Flags batches whose distribution differs from the training data's.

    Parameters are stored as given and checked in `fit`. `batch_sizes` are the sizes the
    threshold is calibrated at, less those above a quarter of the training rows; between them
    it is interpolated, and a batch larger than the largest is scored on that many evenly
    spaced rows, which keeps its false-alarm rate.
    """

    def __init__(
        self,
        *,
        alpha: float = DEFAULT_ALPHA,
        n_bins: int = DEFAULT_N_BINS,
        batch_sizes: Sequence[int] = DEFAULT_BATCH_SIZES,
        n_null_batches: int = DEFAULT_NULL_BATCHES,
        random_state: int = 0,
    ):
        self.alpha = alpha
        self.n_bins = n_bins
        self.batch_sizes = batch_sizes
        self.n_null_batches = n_null_batches
        self.random_state = random_state

    def fit(
        self,
        X: np.ndarray,
        *,
        feature_names: Sequence[str],
        categorical: Sequence[bool],
        n_categories: Sequence[int] | None = None,
    ) -> DriftDetector:
        """Learn the training distribution and the thresholds from training rows.

        `X` is a Preprocessor matrix (numeric: NaN missing; categorical: codes 0..K-1, K
        unseen, NaN missing). `n_categories` gives K for each categorical column in order
        (default: the largest code in `X` plus one).
        """
        X = np.asarray(X, dtype=float)
        self._check_params()
        n_features = len(feature_names)
        if len(set(feature_names)) != n_features or len(categorical) != n_features:
            raise ValueError("feature_names must be unique and match categorical in length")
        if X.ndim != 2 or X.shape[1] != n_features:
            raise ValueError(f"X must be (rows, {n_features}); got {X.shape}")
        cat_columns = np.flatnonzero(np.asarray(categorical, dtype=bool))
        if n_categories is None:
            n_categories = [_largest_code(X[:, j]) + 1 for j in cat_columns]
        if len(n_categories) != len(cat_columns):
            raise ValueError(f"n_categories must give K for each of {len(cat_columns)} columns")
        sizes = sorted(
            s for s in set(self.batch_sizes) if MIN_BATCH_SIZE <= s <= MAX_SIZE_SHARE * len(X)
        )
        if not sizes:
            raise DataError(
                f"{len(X)} training rows cannot calibrate any batch size of "
                f"{sorted(self.batch_sizes)}; at least {MIN_BATCH_SIZE / MAX_SIZE_SHARE:.0f} "
                "rows are needed"
            )

        self.feature_names_in_ = tuple(feature_names)
        self.reference_: Reference = fit_reference(
            X, categorical=categorical, n_categories=n_categories, n_bins=self.n_bins
        )
        self.null_: NullModel = calibrate(
            self.reference_,
            X,
            sizes=sizes,
            n_batches=self.n_null_batches,
            alpha=self.alpha,
            rng=np.random.default_rng(self.random_state),
        )
        return self

    @property
    def max_batch_size_(self) -> int:
        """The largest calibrated batch size; larger batches are scored on that many rows."""
        self._check_fitted()
        return int(self.null_.sizes[-1])

    def score(self, X: np.ndarray) -> DriftReport:
        """Score one batch, a Preprocessor matrix with the columns seen in fit."""
        self._check_fitted()
        X = np.asarray(X, dtype=float)
        n_features = len(self.feature_names_in_)
        if X.ndim != 2 or X.shape[1] != n_features:
            raise ValueError(f"expected a (rows, {n_features}) matrix; got {X.shape}")
        n_rows = len(X)
        if n_rows > self.max_batch_size_:
            X = X[np.linspace(0, n_rows - 1, self.max_batch_size_).round().astype(np.intp)]
        n_scored = len(X)

        reference = self.reference_
        counts = reference.counts(X)
        components = reference.components(counts[None], n_scored)[0]
        z = self.null_.z_scores(components, n_scored)
        statistic = float(z.max())
        threshold = self.null_.threshold_at(n_scored) if n_rows >= MIN_BATCH_SIZE else math.inf
        # z holds one G per feature, then location and scale per numeric feature, then sums.
        per_feature = z[:n_features].copy()
        numeric, n_numeric = reference.numeric, len(reference.numeric)
        location = z[n_features : n_features + n_numeric]
        scale = z[n_features + n_numeric : n_features + 2 * n_numeric]
        per_feature[numeric] = np.maximum.reduce([per_feature[numeric], location, scale])
        return DriftReport(
            drift=int(statistic > threshold),
            statistic=statistic,
            threshold=threshold,
            n_rows=n_rows,
            feature_scores=dict(zip(self.feature_names_in_, per_feature.tolist(), strict=True)),
            counts=counts if n_scored == n_rows else None,
        )

    def _check_params(self) -> None:
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be in (0, 1); got {self.alpha}")
        if not 2 <= self.n_bins <= MAX_N_BINS:
            raise ValueError(f"n_bins must be in [2, {MAX_N_BINS}]; got {self.n_bins}")
        if self.n_null_batches < math.ceil(1 / self.alpha):
            raise ValueError(
                f"n_null_batches must be at least 1/alpha = {math.ceil(1 / self.alpha)} "
                f"to set a threshold at alpha; got {self.n_null_batches}"
            )

    def _check_fitted(self) -> None:
        if not hasattr(self, "null_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit() first")


def _largest_code(codes: np.ndarray) -> int:
    codes = codes[~np.isnan(codes)]
    return int(codes.max()) if len(codes) else -1
