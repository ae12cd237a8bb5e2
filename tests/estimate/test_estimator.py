"""The estimator on its own: the expected metric, calibration, the band, the region check."""

import numpy as np
import pytest

from mara.errors import DataError, NotFittedError
from mara.estimate import PerformanceEstimator, check_region, fit_calibrator
from mara.estimate.calibrate import hits
from mara.estimate.metrics import expected_auc, metric_draws, realized_auc


def overconfident(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Binary rows whose true P(positive) is known; the model's scores are too sure of it."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    truth = 1 / (1 + np.exp(-1.5 * x))
    labels = (rng.random(n) < truth).astype(int)
    return 1 / (1 + np.exp(-4 * x)), labels, truth


def test_expected_auc_is_the_realized_auc_when_the_labels_are_certain():
    rng = np.random.default_rng(0)
    scores = rng.random(500).round(2)  # with ties
    labels = rng.random(500) < scores
    assert expected_auc(scores, labels.astype(float)) == pytest.approx(realized_auc(scores, labels))


def test_expected_auc_is_the_mean_of_auc_over_drawn_labels():
    scores, _, truth = overconfident(2000, 1)
    draws = metric_draws("auc", scores, truth, 4000, np.random.default_rng(0))
    assert expected_auc(scores, truth) == pytest.approx(draws.mean(), abs=0.002)


def test_calibration_repairs_an_overconfident_model():
    scores, labels, _ = overconfident(3000, 2)
    estimator = PerformanceEstimator().fit(scores, labels)
    assert estimator.method_ != "none"
    assert estimator.brier_[estimator.method_] < estimator.brier_["none"]
    # The raw scores promise a better AUC than the labels give; calibrated, they do not.
    later, later_labels, _ = overconfident(5000, 3)
    realized = realized_auc(later, later_labels == 1)
    raw = estimator.estimate(later, method="none")
    calibrated = estimator.estimate(later)
    assert raw.value - realized > 0.05
    assert abs(calibrated.value - realized) < 0.02
    assert calibrated.low <= realized <= calibrated.high


def test_the_band_covers_the_realized_metric_on_new_windows():
    scores, labels, _ = overconfident(2000, 4)
    estimator = PerformanceEstimator(draws=400).fit(scores, labels)
    covered = []
    for seed in range(20):
        window, truth, _ = overconfident(1000, 100 + seed)
        found = estimator.estimate(window)
        covered.append(found.low <= realized_auc(window, truth == 1) <= found.high)
    assert np.mean(covered) >= 0.85, covered


def test_multiclass_accuracy_with_temperature_scaling():
    rng = np.random.default_rng(5)
    logits = rng.normal(size=(3000, 4)) * 2
    truth = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(4, p=p) for p in truth])
    sharp = np.exp(2 * logits) / np.exp(2 * logits).sum(axis=1, keepdims=True)
    estimator = PerformanceEstimator().fit(sharp, labels)
    assert estimator.metric_ == "accuracy"
    assert set(estimator.brier_) == {"none", "platt", "isotonic", "temperature"}
    assert estimator.calibrators_["temperature"].params["t"] > 1.5  # it softens the scores
    expected = truth[np.arange(len(truth)), sharp.argmax(axis=1)].mean()
    assert estimator.estimate(sharp).value == pytest.approx(expected, abs=0.02)
    assert estimator.estimate(sharp, method="none").value > expected + 0.05


def test_round_trip_through_json_gives_the_same_estimate():
    scores, labels, _ = overconfident(1000, 6)
    fitted = PerformanceEstimator(bootstraps=10).fit(scores, labels)
    again = PerformanceEstimator.from_dict(fitted.as_dict())
    window, _, _ = overconfident(500, 7)
    assert again.estimate(window) == fitted.estimate(window)


def test_every_calibration_maps_into_probabilities():
    scores, labels, _ = overconfident(800, 8)
    for method in ("none", "platt", "isotonic"):
        q = fit_calibrator(method, scores, labels).apply(scores)
        assert q.min() >= 0 and q.max() <= 1 and len(q) == len(scores)
    assert hits(scores, labels).tolist() == labels.tolist()


def test_bad_input_is_refused_clearly():
    with pytest.raises(NotFittedError, match="call fit"):
        PerformanceEstimator().estimate(np.array([0.5]))
    with pytest.raises(DataError, match="one class only"):
        PerformanceEstimator().fit(np.random.default_rng(0).random(50), np.zeros(50, int))
    with pytest.raises(DataError, match="3 scores for 2 labels"):
        PerformanceEstimator().fit(np.array([0.1, 0.2, 0.3]), np.array([0, 1]))
    scores, labels, _ = overconfident(300, 9)
    fitted = PerformanceEstimator(bootstraps=5).fit(scores, labels)
    with pytest.raises(DataError, match="do not fit this auc model"):
        fitted.estimate(np.ones((4, 3)) / 3)
    with pytest.raises(ValueError, match="no 'temperature' calibration"):
        fitted.estimate(scores, method="temperature")
    empty = fitted.estimate(np.empty(0))
    assert empty.rows == 0 and np.isnan(empty.value)


def test_the_region_check_tells_traffic_outside_the_holdout_from_a_shift_inside_it():
    rng = np.random.default_rng(10)
    holdout = np.column_stack([rng.normal(size=2000), rng.integers(0, 5, 2000)])
    same = np.column_stack([rng.normal(size=1000), rng.integers(0, 5, 1000)])
    assert check_region(holdout, same, categorical=[1]).in_region
    # Rows preferring high x, inside the holdout's range: the calibration still holds there.
    pool = rng.normal(size=20000)
    weight = np.exp(pool)
    inside = rng.choice(pool, 1000, replace=False, p=weight / weight.sum())
    tilted = np.column_stack([inside, rng.integers(0, 5, 1000)])
    assert check_region(holdout, tilted, categorical=[1]).in_region
    far = np.column_stack([rng.normal(6, 1, 1000), rng.integers(0, 5, 1000)])
    found = check_region(holdout, far, categorical=[1])
    assert not found.in_region and found.outside_share > 0.9
    assert "outside the holdout's region" in found.reason
    few = check_region(holdout, far[:10], categorical=[1])
    assert few.in_region and few.domain_auc is None and "too few" in few.reason
