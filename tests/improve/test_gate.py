"""The gate: a paired bootstrap of the gain, and the rule that reads it."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from mara.improve import GateRule, MetricDifference, ScoreShift, paired_bootstrap, score_shift
from mara.improve.gate import HOLDOUT_GUARD, HOLDOUT_STALE


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


def test_the_weighted_auc_is_sklearns_with_sample_weights():
    from mara.improve.gate import _weighted_auc

    rng = np.random.default_rng(5)
    truth = rng.random(300) < 0.4
    scores = np.round(truth + rng.normal(size=300), 1)  # ties, counted half
    weights = rng.integers(0, 4, (3, 300)).astype(float)
    got = _weighted_auc(scores, truth, weights)
    for row, value in zip(weights, got, strict=True):
        assert value == pytest.approx(roc_auc_score(truth, scores, sample_weight=row))


@pytest.mark.parametrize("kind", ["auc", "accuracy"])
def test_the_bootstrap_draws_requests_not_rows(kind: str):
    # 40 requests of 25 identical rows: the evidence is 40 requests' worth, not 1,000 rows'.
    rng = np.random.default_rng(6)
    truth, a = scores(7, n=40)
    b = a + truth * 0.3 + rng.normal(scale=0.5, size=40)
    if kind == "accuracy":
        labels = np.where(truth == 1, "x", "y").tolist()
        a = np.where(a > 0.5, "x", "y").tolist()
        b = np.where(b > 0.5, "x", "y").tolist()
        classes = ["x", "y", "z"]
    else:
        labels, classes = truth.tolist(), [0, 1]

    def repeat(values):
        return [v for v in values for _ in range(25)]

    keys = [f"r{n}" for n in range(40) for _ in range(25)]
    by_rows = paired_bootstrap(repeat(a), repeat(b), repeat(labels), classes, seed=1)
    by_requests = paired_bootstrap(
        repeat(a), repeat(b), repeat(labels), classes, groups=keys, seed=1
    )
    alone = paired_bootstrap(a, b, labels, classes, seed=1)
    assert by_requests.difference == by_rows.difference == pytest.approx(alone.difference)
    width = {d: d.high - d.low for d in (by_rows, by_requests, alone)}
    assert width[by_requests] > 3 * width[by_rows]
    assert width[by_requests] == pytest.approx(width[alone], rel=0.25)


def test_a_score_shift_is_seen_when_there_is_one_and_not_otherwise():
    truth, holdout = scores(8, n=1500)
    same_truth, same = scores(9, n=1500)
    worse_truth, worse = scores(10, n=1500, signal=0.4)
    keys = [f"r{n // 50}" for n in range(1500)]
    held = score_shift(same, same_truth.tolist(), holdout, truth.tolist(), [0, 1], groups=keys)
    assert held.low < 0 < held.high
    moved = score_shift(worse, worse_truth.tolist(), holdout, truth.tolist(), [0, 1], groups=keys)
    assert moved.high < 0 and moved.recent < moved.holdout


def shift(low: float, high: float) -> ScoreShift:
    return ScoreShift("auc", 0.85, 0.85 + (low + high) / 2, low, high, 500)


def test_a_stale_holdout_is_set_aside_a_holding_one_guards():
    rule = GateRule(holdout_tolerance=0.005)
    gain, forgets = diff(0.05, 0.1, 0.15), diff(-0.04, -0.03, -0.02)
    # The champion fell on recent traffic beyond the interval: the traffic has moved, and
    # the gate judges on recent traffic alone.
    stale = rule.judge(gain, forgets, shift(-0.2, -0.1))
    assert stale.promote and stale.rule == HOLDOUT_STALE
    assert "the traffic has moved" in stale.reason
    # The champion holds its level (the shift's interval covers 0): the guard stays.
    held = rule.judge(gain, forgets, shift(-0.03, 0.01))
    assert not held.promote and held.rule == HOLDOUT_GUARD
    assert "original holdout" in held.reason
    # A stale holdout never lets an unsure gain through.
    unsure = rule.judge(diff(-0.01, 0.02, 0.05), diff(0, 0, 0), shift(-0.2, -0.1))
    assert not unsure.promote and "lower bound" in unsure.reason


def test_stratified_auc_ranks_each_fit_only_against_its_own_rows():
    # Labels carry no signal within a block; the second block holds more positives and the
    # challenger's second fit predicts higher there. Pooled, that alone is a gain.
    rng = np.random.default_rng(0)
    n = 2000
    block = np.repeat([0, 1], n // 2)
    labels = np.where(block == 0, rng.random(n) < 0.2, rng.random(n) < 0.4).astype(int)
    champion = rng.random(n)
    challenger = rng.random(n) + 0.5 * block
    groups = np.arange(n) // 50
    pooled = paired_bootstrap(champion, challenger, labels, [0, 1], groups=groups, resamples=300)
    within = paired_bootstrap(
        champion, challenger, labels, [0, 1], groups=groups, strata=block, resamples=300
    )
    assert pooled.low > 0  # the spurious gain the pooled AUC sees
    assert within.low < 0  # no gain shown: the fits are ranked within their own blocks
    assert abs(within.challenger - 0.5) < 0.04


def test_the_one_sided_bound_lies_between_the_lower_bound_and_the_gain():
    truth, weak = scores(11, signal=0.5)
    better = weak + truth * 0.15
    found = paired_bootstrap(weak, better, truth.tolist(), [0, 1], confidence=0.95)
    assert found.floor is not None
    assert found.low < found.floor < found.difference


def test_when_the_traffic_moved_the_one_sided_bound_decides():
    rule = GateRule()
    # The two-sided interval reaches below 0, the one-sided bound does not.
    gain = MetricDifference("auc", 0.8, 0.81, -0.001, 0.02, 500, floor=0.001)
    holdout = diff(-0.01, 0.0, 0.01)
    moved = rule.judge(gain, holdout, shift(-0.2, -0.1))
    assert moved.promote and moved.rule == HOLDOUT_STALE
    assert "one-sided lower bound decides (+0.0010)" in moved.reason
    # While the champion holds its level, keeping it is the default: the two-sided bound.
    held = rule.judge(gain, holdout, shift(-0.03, 0.01))
    assert not held.promote and held.rule == HOLDOUT_GUARD
    assert "the gain's lower bound is not above" in held.reason
    # A one-sided bound at or below the minimum gain keeps the champion all the same.
    unsure = MetricDifference("auc", 0.8, 0.805, -0.01, 0.02, 500, floor=-0.002)
    kept = rule.judge(unsure, holdout, shift(-0.2, -0.1))
    assert not kept.promote and "one-sided lower bound is not above" in kept.reason


def test_row_weights_count_in_the_metric_and_in_every_resample():
    # Block 0: both models right on the same rows. Block 1: the challenger is right on 50
    # rows more. Counting block 1's rows three times weighs its gain three times.
    classes = ["a", "b", "c"]
    labels = [classes[n % 3] for n in range(400)]
    champion = list(labels)
    challenger = list(labels)
    for row in range(200, 250):
        champion[row] = "c" if labels[row] != "c" else "a"
    block = np.repeat([0, 1], 200)
    weights = np.where(block == 1, 3.0, 1.0)
    plain = paired_bootstrap(champion, challenger, labels, classes, strata=block)
    weighted = paired_bootstrap(
        champion, challenger, labels, classes, strata=block, weights=weights
    )
    assert plain.difference == pytest.approx(50 / 400)
    assert weighted.difference == pytest.approx(3 * 50 / (200 + 3 * 200))
    assert weighted.low > plain.low > 0


def test_row_weights_weigh_each_stratum_auc():
    rng = np.random.default_rng(12)
    block = np.repeat([0, 1], 600)
    truth = (rng.random(1200) < 0.3).astype(int)
    champion = truth * 0.5 + rng.normal(size=1200)
    challenger = truth * np.where(block == 1, 1.5, 0.5) + rng.normal(size=1200)
    weights = np.where(block == 1, 2.0, 1.0)
    found = paired_bootstrap(
        champion, challenger, truth, [0, 1], strata=block, weights=weights, resamples=200
    )
    per_block = [roc_auc_score(truth[block == b], challenger[block == b]) for b in (0, 1)]
    assert found.challenger == pytest.approx((per_block[0] + 2 * per_block[1]) / 3)


def test_row_weights_are_checked():
    truth, a = scores(13, n=100)
    block = np.repeat([0, 1], 50)
    with pytest.raises(ValueError, match="equal within a stratum"):
        paired_bootstrap(a, a, truth, [0, 1], strata=block, weights=np.arange(1.0, 101.0))
    with pytest.raises(ValueError, match="positive"):
        paired_bootstrap(a, a, truth, [0, 1], weights=np.zeros(100))
    with pytest.raises(ValueError, match="99 weights for 100 rows"):
        paired_bootstrap(a, a, truth, [0, 1], weights=np.ones(99))
