"""The gate: a paired bootstrap of the gain, and the rule that reads it."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from mara.improve import GateRule, MetricDifference, paired_bootstrap


def scores(seed: int, n: int = 800, signal: float = 1.0):
    rng = np.random.default_rng(seed)
    truth = (rng.random(n) < 0.3).astype(int)
    return truth, truth * signal + rng.normal(size=n)


def test_point_values_are_the_metric_on_all_rows():
    truth, weak = scores(0, signal=0.5)
    strong = weak + truth * 1.0
    diff = paired_bootstrap(weak, strong, truth.tolist(), [0, 1])
    assert diff.champion == pytest.approx(roc_auc_score(truth, weak))
    assert diff.challenger == pytest.approx(roc_auc_score(truth, strong))
    assert 0 < diff.low < diff.difference < diff.high


def test_the_same_model_twice_gains_nothing():
    truth, same = scores(1)
    diff = paired_bootstrap(same, same, truth.tolist(), [0, 1])
    assert diff.low == diff.high == diff.difference == 0.0


def test_the_interval_covers_noise_between_equal_models():
    truth, a = scores(2)
    b = a + np.random.default_rng(3).normal(scale=0.3, size=len(a))
    diff = paired_bootstrap(a, b, truth.tolist(), [0, 1])
    assert diff.low < 0 < diff.high


def test_multiclass_uses_accuracy():
    labels = ["x", "y", "z"] * 200
    champion = ["x", "y", "y"] * 200
    diff = paired_bootstrap(champion, labels, labels, ["x", "y", "z"])
    assert diff.metric == "accuracy"
    assert (diff.champion, diff.challenger) == (pytest.approx(2 / 3), 1.0)
    assert diff.low > 0.25


def test_one_class_rows_have_no_auc():
    with pytest.raises(ValueError, match="one class"):
        paired_bootstrap([0.1, 0.2], [0.3, 0.4], [1, 1], [0, 1])


def diff(low: float, point: float, high: float) -> MetricDifference:
    return MetricDifference("auc", 0.8, 0.8 + point, low, high, 500)


def test_the_rule_promotes_only_a_sure_gain_that_keeps_the_old_traffic():
    rule = GateRule(min_gain=0.0, holdout_tolerance=0.005)
    assert rule.decide(diff(0.01, 0.02, 0.03), diff(-0.01, -0.004, 0.0)).promote
    # A holdout loss past the tolerance that the interval cannot confirm is noise, not a loss.
    assert rule.decide(diff(0.01, 0.02, 0.03), diff(-0.02, -0.008, 0.004)).promote
    unsure = rule.decide(diff(-0.001, 0.02, 0.04), diff(-0.01, 0.0, 0.01))
    assert not unsure.promote and "lower bound" in unsure.reason
    forgets = rule.decide(diff(0.01, 0.02, 0.03), diff(-0.03, -0.02, -0.01))
    assert not forgets.promote and "original holdout" in forgets.reason
    assert not GateRule(min_gain=0.02).decide(diff(0.01, 0.02, 0.03), diff(0, 0, 0)).promote


def test_missing_scores_are_an_error_not_endless_redraws():
    # A NaN score makes every resample's AUC NaN: it must fail at once, not redraw forever.
    with pytest.raises(ValueError, match="non-finite"):
        paired_bootstrap([0.2, None, 0.7], [0.1, 0.5, 0.9], [0, 1, 1], [0, 1], resamples=50)
