"""PerformanceEstimator: calibrated on held-out rows, it estimates a metric without labels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.model_selection import StratifiedKFold

from mara.errors import DataError, NotFittedError
from mara.estimate.calibrate import (
    BINARY_METHODS,
    MULTICLASS_METHODS,
    Calibrator,
    fit_calibrator,
    hits,
)
from mara.estimate.metrics import (
    expected_accuracy,
    expected_auc,
    metric_draws,
    realized_accuracy,
    realized_auc,
)

__all__ = ["Estimate", "PerformanceEstimator"]


@dataclass(frozen=True)
class Estimate:
    """An estimated metric over some rows and its band."""

    metric: str
    value: float
    low: float
    high: float
    rows: int
    method: str


class PerformanceEstimator:
    """Confidence-based performance estimation (CBPE), fitted on rows the model never saw.

    `fit` takes the model's raw scores on held-out rows and their labels, fits every
    calibration of `MULTICLASS_METHODS` (binary: `BINARY_METHODS`) on all of them, keeps
    `bootstraps` refits of each on resampled rows, and chooses, with `calibration="auto"`,
    the calibration whose cross-validated Brier score is lowest (`none` only when asked).
    `estimate` then needs only the scores of new rows: the expected metric under the
    calibrated probabilities, and a band from labels drawn from them, each draw through one
    of the resampled calibrators, so the band holds both the labels' chance and the
    calibration's own error.
    """

    def __init__(
        self,
        *,
        calibration: str = "auto",
        bootstraps: int = 40,
        draws: int = 1000,
        confidence: float = 0.95,
        folds: int = 5,
        seed: int = 0,
    ):
        self.calibration = calibration
        self.bootstraps = bootstraps
        self.draws = draws
        self.confidence = confidence
        self.folds = folds
        self.seed = seed

    def fit(self, scores: np.ndarray, labels: np.ndarray) -> PerformanceEstimator:
        """Learn the calibrations from held-out rows: scores (n,) or (n, classes), label codes."""
        scores, labels = np.asarray(scores, dtype=float), np.asarray(labels, dtype=int)
        if scores.ndim == 2 and scores.shape[1] == 1:
            scores = scores[:, 0]
        if len(scores) != len(labels):
            raise DataError(f"{len(scores)} scores for {len(labels)} labels")
        if len(np.unique(labels)) < 2:
            raise DataError("the held-out rows hold one class only: nothing to calibrate on")
        binary = scores.ndim == 1
        methods = BINARY_METHODS if binary else MULTICLASS_METHODS
        if self.calibration not in (*methods, "auto"):
            raise ValueError(f"calibration must be auto or one of {', '.join(methods)}")
        self.metric_ = "auc" if binary else "accuracy"
        self.holdout_rows_ = len(labels)
        self.baseline_ = (
            realized_auc(scores, labels == 1)
            if binary
            else realized_accuracy(scores.argmax(axis=1) == labels)
        )
        self.brier_ = _cross_validated_brier(methods, scores, labels, self.folds, self.seed)
        # `none` is measured but never chosen: the band of the raw scores would hold the
        # labels' chance only, none of the doubt about whether those scores are calibrated.
        fitted = {m: b for m, b in self.brier_.items() if m != "none"}
        self.method_ = (
            min(fitted, key=fitted.get) if self.calibration == "auto" else self.calibration
        )
        rng = np.random.default_rng(self.seed)
        resamples = [rng.integers(0, len(labels), len(labels)) for _ in range(self.bootstraps)]
        self.calibrators_ = {m: fit_calibrator(m, scores, labels) for m in methods}
        self.bootstrap_ = {
            m: [fit_calibrator(m, scores[idx], labels[idx]) for idx in resamples] for m in methods
        }
        self.holdout_estimate_ = self.estimate(scores).value
        return self

    def estimate(self, scores: np.ndarray, *, method: str | None = None) -> Estimate:
        """The expected metric of new rows' raw scores, with its band (NaN without rows)."""
        self._check_fitted()
        scores = np.asarray(scores, dtype=float)
        if scores.ndim == 2 and scores.shape[1] == 1:
            scores = scores[:, 0]
        method = method or self.method_
        if method not in self.calibrators_:
            raise ValueError(f"no {method!r} calibration; fitted: {', '.join(self.calibrators_)}")
        if (scores.ndim == 1) != (self.metric_ == "auc"):
            raise DataError(f"scores of shape {scores.shape} do not fit this {self.metric_} model")
        nan = float("nan")
        if len(scores) == 0:
            return Estimate(self.metric_, nan, nan, nan, 0, method)
        value = self._expected(scores, self.calibrators_[method].apply(scores))
        rng = np.random.default_rng(self.seed)
        bootstrap = self.bootstrap_[method]
        per = max(1, self.draws // max(len(bootstrap), 1))
        found = [metric_draws(self.metric_, scores, c.apply(scores), per, rng) for c in bootstrap]
        draws = np.concatenate(found) if found else np.empty(0)
        if len(draws) < 10 or not np.isfinite(value):
            return Estimate(self.metric_, value, nan, nan, len(scores), method)
        tail = (1 - self.confidence) / 2
        low, high = np.quantile(draws, [tail, 1 - tail])
        return Estimate(
            self.metric_,
            value,
            float(min(low, value)),
            float(max(high, value)),
            len(scores),
            method,
        )

    def _expected(self, scores: np.ndarray, q: np.ndarray) -> float:
        return expected_auc(scores, q) if self.metric_ == "auc" else expected_accuracy(q)

    def as_dict(self) -> dict[str, Any]:
        """The fitted state as JSON-ready data; `from_dict` reads it back."""
        self._check_fitted()
        return {
            "params": {
                "calibration": self.calibration,
                "bootstraps": self.bootstraps,
                "draws": self.draws,
                "confidence": self.confidence,
                "folds": self.folds,
                "seed": self.seed,
            },
            "metric": self.metric_,
            "holdout_rows": self.holdout_rows_,
            "baseline": self.baseline_,
            "holdout_estimate": self.holdout_estimate_,
            "brier": self.brier_,
            "method": self.method_,
            "calibrators": {m: c.as_dict() for m, c in self.calibrators_.items()},
            "bootstrap": {m: [c.as_dict() for c in cs] for m, cs in self.bootstrap_.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PerformanceEstimator:
        """An estimator fitted earlier, from `as_dict()`'s output."""
        self = cls(**data["params"])
        self.metric_ = data["metric"]
        self.holdout_rows_ = int(data["holdout_rows"])
        self.baseline_ = data["baseline"]
        self.holdout_estimate_ = data["holdout_estimate"]
        self.brier_ = {m: float(v) for m, v in data["brier"].items()}
        self.method_ = data["method"]
        self.calibrators_ = {m: Calibrator(**c) for m, c in data["calibrators"].items()}
        self.bootstrap_ = {m: [Calibrator(**c) for c in cs] for m, cs in data["bootstrap"].items()}
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "calibrators_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit() first")


def _cross_validated_brier(
    methods: tuple[str, ...], scores: np.ndarray, labels: np.ndarray, folds: int, seed: int
) -> dict[str, float]:
    """Brier score of each calibration on rows it was not fitted on (k-fold on the holdout)."""
    counts = np.bincount(labels)
    k = int(min(folds, counts[counts > 0].min()))
    squared = {m: np.empty(len(labels)) for m in methods}
    if k < 2:  # a class with one row: no fold could hold it out; judged in-sample
        splits = [(np.arange(len(labels)), np.arange(len(labels)))]
    else:
        splits = StratifiedKFold(k, shuffle=True, random_state=seed).split(scores, labels)
    for fit_rows, test_rows in splits:
        target = hits(scores[test_rows], labels[test_rows])
        for method in methods:
            calibrator = fit_calibrator(method, scores[fit_rows], labels[fit_rows])
            squared[method][test_rows] = (calibrator.apply(scores[test_rows]) - target) ** 2
    return {m: float(v.mean()) for m, v in squared.items()}
