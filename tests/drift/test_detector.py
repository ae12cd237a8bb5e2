"""DriftDetector on synthetic Preprocessor matrices: calibrated, sensitive, robust, portable."""

from __future__ import annotations

import json
import math
import pickle

import numpy as np
import pytest

from mara.drift import DEFAULT_ALPHA, MIN_BATCH_SIZE, DriftDetector, DriftReport
from mara.errors import DataError, NotFittedError

N_NUMERIC = 8
N_CATEGORIES = (2, 5, 12, 30)
NAMES = [f"num{i}" for i in range(N_NUMERIC)] + [f"cat{i}" for i in range(len(N_CATEGORIES))]
CATEGORICAL = [False] * N_NUMERIC + [True] * len(N_CATEGORIES)
TRAIN_ROWS = 20_000
# Null batches per size: the measured false-positive rate may exceed alpha by three binomial
# standard errors, FPR <= alpha + 3 * sqrt(alpha * (1 - alpha) / NULL_BATCHES) (0.025 here).
NULL_BATCHES = 400
FPR_BOUND = DEFAULT_ALPHA + 3 * math.sqrt(DEFAULT_ALPHA * (1 - DEFAULT_ALPHA) / NULL_BATCHES)


def draw(rng: np.random.Generator, n: int) -> np.ndarray:
    """Rows coded as the Preprocessor codes them: floats with NaN, category codes with NaN."""
    factor = rng.normal(size=n)
    columns = []
    for i in range(N_NUMERIC):
        base = 0.6 * factor + 0.8 * rng.normal(size=n)  # correlated, as real features are
        column = [
            base,
            np.exp(base),  # skewed
            rng.poisson(np.exp(0.4 * base + 1.0)).astype(float),  # ties
            np.where(rng.random(n) < 0.4, 0.0, np.abs(base)),  # a spike at zero
        ][i % 4]
        column[rng.random(n) < 0.03 * (i % 2)] = np.nan
        columns.append(column)
    for k in N_CATEGORIES:
        weights = 1 / np.arange(1, k + 1) ** 1.2
        codes = rng.choice(k, size=n, p=weights / weights.sum()).astype(float)
        codes[rng.random(n) < 0.02] = np.nan
        columns.append(codes)
    return np.column_stack(columns)


@pytest.fixture(scope="module")
def detector() -> DriftDetector:
    train = draw(np.random.default_rng(0), TRAIN_ROWS)
    return DriftDetector(batch_sizes=(10, 20, 50, 100, 200, 500, 1000, 2000)).fit(
        train, feature_names=NAMES, categorical=CATEGORICAL, n_categories=N_CATEGORIES
    )


@pytest.fixture(scope="module")
def null_pool() -> np.ndarray:
    """Fresh rows from the training distribution, never seen in fit."""
    return draw(np.random.default_rng(1), 200_000)


def batches(pool: np.ndarray, n: int, count: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [pool[rng.choice(len(pool), n, replace=False)] for _ in range(count)]


@pytest.mark.parametrize("n", [10, 30, 100, 300, 1000, 2000])
def test_false_positive_rate_stays_within_the_calibrated_bound(detector, null_pool, n):
    flags = [detector.score(X).drift for X in batches(null_pool, n, NULL_BATCHES, seed=n)]
    assert np.mean(flags) <= FPR_BOUND


def shift_mean(X: np.ndarray) -> np.ndarray:
    X[:, 0] += np.nanstd(X[:, 0])
    return X


def new_category(X: np.ndarray) -> np.ndarray:
    X[::10, N_NUMERIC + 2] = N_CATEGORIES[2]  # code K: a category training never had
    return X


def more_missing(X: np.ndarray) -> np.ndarray:
    X[::5, 1] = np.nan  # 20% missing where training had 3%
    return X


@pytest.mark.parametrize(
    ("change", "feature"),
    [(shift_mean, "num0"), (new_category, "cat2"), (more_missing, "num1")],
)
def test_clear_shifts_at_1000_rows_are_flagged_and_located(detector, null_pool, change, feature):
    for X in batches(null_pool, 1000, 20, seed=7):
        report = detector.score(change(X))
        assert report.drift == 1
        assert max(report.feature_scores, key=report.feature_scores.get) == feature
        assert report.feature_scores[feature] > report.threshold


def test_batches_below_the_minimum_size_are_never_flagged(detector, null_pool):
    for n in range(MIN_BATCH_SIZE):
        X = null_pool[:n].copy()
        X[:, :N_NUMERIC] += 100.0
        report = detector.score(X)
        assert report.drift == 0
        assert report.as_dict()["threshold"] is None
        assert report.n_rows == n


def test_missing_columns_and_empty_batches_do_not_crash(detector):
    everything_missing = detector.score(np.full((50, len(NAMES)), np.nan))
    assert everything_missing.drift == 1
    assert math.isfinite(everything_missing.statistic)
    nothing = detector.score(np.empty((0, len(NAMES))))
    assert nothing.drift == 0
    assert nothing.n_rows == 0


def test_a_batch_larger_than_calibrated_is_scored_on_a_subsample(detector, null_pool):
    n = 3 * detector.max_batch_size_
    report = detector.score(shift_mean(null_pool[:n].copy()))
    assert report.n_rows == n
    assert report.drift == 1


def test_the_report_carries_the_bin_counts_only_when_every_row_was_scored(detector, null_pool):
    X = null_pool[:500]
    counts = detector.score(X).counts
    assert counts is not None
    np.testing.assert_array_equal(counts, detector.reference_.counts(X))
    assert counts.sum() == X.size  # every cell in one bin
    assert detector.score(null_pool[: 2 * detector.max_batch_size_]).counts is None


def test_report_is_json_native(detector, null_pool):
    body = detector.score(null_pool[:500]).as_dict()
    assert json.loads(json.dumps(body, allow_nan=False)) == body
    assert set(body) == {"drift", "statistic", "threshold", "n_rows", "feature_scores"}
    assert list(body["feature_scores"]) == NAMES


def test_pickle_round_trip_keeps_verdicts_and_stays_small(detector, null_pool):
    blob = pickle.dumps(detector)
    assert len(blob) < 200_000
    restored = pickle.loads(blob)
    for X in (null_pool[:100], shift_mean(null_pool[:1000].copy())):
        assert restored.score(X) == detector.score(X)


def test_misuse_is_reported():
    with pytest.raises(NotFittedError):
        DriftDetector().score(np.zeros((10, 3)))
    train = draw(np.random.default_rng(2), 5000)
    fitted = DriftDetector(batch_sizes=(10,), n_null_batches=100).fit(
        train, feature_names=NAMES, categorical=CATEGORICAL
    )
    assert isinstance(fitted.score(train[:20]), DriftReport)
    with pytest.raises(ValueError, match="matrix"):
        fitted.score(train[:20, :3])
    with pytest.raises(DataError, match="training rows"):
        DriftDetector().fit(train[:30], feature_names=NAMES, categorical=CATEGORICAL)
    with pytest.raises(ValueError, match="n_null_batches"):
        DriftDetector(n_null_batches=50).fit(train, feature_names=NAMES, categorical=CATEGORICAL)


def long_tail_rows(levels: np.ndarray, known: dict, rng: np.random.Generator) -> np.ndarray:
    """A numeric feature and a long-tail category coded as the Preprocessor codes it."""
    codes = np.array([known.get(level, len(known)) for level in levels], dtype=float)
    return np.column_stack([rng.normal(size=len(levels)), codes])


def zipf_levels(rng: np.random.Generator, n: int) -> np.ndarray:
    # Shop ids, zip codes: a few common levels and thousands seen once or never.
    return rng.zipf(1.3, size=n)


def test_a_long_tail_category_is_not_drift_when_served_rows_bring_unseen_levels():
    rng = np.random.default_rng(5)
    train_levels = zipf_levels(rng, 3_000)
    known = {level: code for code, level in enumerate(np.unique(train_levels))}
    detector = DriftDetector(batch_sizes=(10, 100, 250, 1000)).fit(
        long_tail_rows(train_levels, known, rng),
        feature_names=["x", "shop"],
        categorical=[False, True],
        n_categories=[len(known)],
    )
    served = long_tail_rows(zipf_levels(rng, 400_000), known, rng)
    assert (served[:, 1] == len(known)).mean() > 0.05  # the tail does bring unseen levels
    for n in (250, 1000):
        flags = [detector.score(X).drift for X in batches(served, n, NULL_BATCHES, seed=n)]
        assert np.mean(flags) <= FPR_BOUND
    # A flood of new levels, far above the tail's own rate, is still drift, and located.
    flooded = served[:1000].copy()
    flooded[::2, 1] = len(known)
    report = detector.score(flooded)
    assert report.drift == 1
    assert max(report.feature_scores, key=report.feature_scores.get) == "shop"
