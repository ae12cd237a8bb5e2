"""The autopilot's rules on frames shaped as the reader gives them: when it improves, when
a baking champion goes back."""

import numpy as np
import pandas as pd
import pytest

from mara.autopilot import AutopilotConfig
from mara.autopilot.bake import Bake, expected_slowdown, judge_bake
from mara.autopilot.watch import Watch, improve_trigger
from mara.capture import BATCH_COLUMNS
from mara.improve import ScoreShift
from mara.registry import Registry
from mara.spec import load_spec
from mara.train.learners import Cost


def batches(
    versions: list[str], server_ms: list[float], drift: list[int], *, rows: int = 100
) -> pd.DataFrame:
    n = len(versions)
    return pd.DataFrame(
        {
            "key": [f"b{i}" for i in range(n)],
            "id": [f"b{i}" for i in range(n)],
            "received_at": np.arange(n, dtype=float),
            "model_version": versions,
            "n_rows": [rows] * n,
            "drift": drift,
            "drift_statistic": [1.0] * n,
            "drift_threshold": [3.0] * n,
            "server_ms": server_ms,
        },
        columns=list(BATCH_COLUMNS),
    )


NO_LABELS = pd.DataFrame(
    columns=["key", "row", "received_at", "model_version", "prediction", "label"]
)
# Labelled rows well above improve's floor (30 of each of two classes, 12 requests): 100
# requests of 10 rows.
LABELLED = pd.DataFrame(
    {"key": [f"k{n // 10}" for n in range(1000)], "row": range(1000), "label": [0, 1] * 500}
)


def test_improve_fires_at_the_floor_then_as_the_labels_grow():
    config = AutopilotConfig(label_growth=0.5, drift_k=3, drift_m=10, min_drift_labels=200)
    calm = Watch(batches(["1"] * 10, [5.0] * 10, [0] * 10), LABELLED)
    # No run yet: the floor is all it takes, the interval decides the rest.
    assert "1000 labelled rows meet improve's floor" in improve_trigger(calm, 0, config)
    singles = LABELLED.assign(key=[f"s{n}" for n in range(1000)])  # one row a request
    at_floor = Watch(calm.batches, singles.head(60))  # 30 of each class
    assert "meet improve's floor" in improve_trigger(at_floor, 0, config)
    one_short = Watch(calm.batches, singles.head(59))
    assert improve_trigger(one_short, 0, config) is None
    # Rows enough, but from too few requests for the interval to resample.
    big_requests = Watch(calm.batches, LABELLED.assign(key=[f"k{n // 100}" for n in range(1000)]))
    assert improve_trigger(big_requests, 0, config) is None
    # After a run on 600 rows, 1000 is not 1.5 times that; after one on 666, it is.
    assert improve_trigger(calm, 667, config) is None
    assert "1.5 times the 666 of the last run" in improve_trigger(calm, 666, config)


def test_drift_or_a_realized_drop_fires_only_with_labels_behind_it():
    config = AutopilotConfig(label_growth=0.5, drift_k=3, drift_m=10, min_drift_labels=200)
    calm = Watch(batches(["1"] * 10, [5.0] * 10, [0] * 10), LABELLED)
    drifting = Watch(batches(["1"] * 10, [5.0] * 10, [0] * 7 + [1] * 3), LABELLED)
    assert improve_trigger(drifting, 801, config) is None  # drift alone: nothing to learn from
    assert "drift in 3 of the last 10 batches" in improve_trigger(drifting, 800, config)
    # Only the last M batches count.
    old_drift = Watch(batches(["1"] * 20, [5.0] * 20, [1] * 3 + [0] * 17), LABELLED)
    assert improve_trigger(old_drift, 800, config) is None
    dropped = ScoreShift("auc", 0.85, 0.70, -0.2, -0.1, 500)
    held = ScoreShift("auc", 0.85, 0.83, -0.06, 0.01, 500)
    assert improve_trigger(calm, 801, config, realized=dropped) is None
    assert "realized drop" in improve_trigger(calm, 800, config, realized=dropped)
    assert improve_trigger(calm, 800, config, realized=held) is None
    # Below improve's floor no rule fires, whatever it says.
    few = Watch(drifting.batches, LABELLED.head(40))
    assert improve_trigger(few, 0, config, realized=dropped) is None


@pytest.fixture(scope="module")
def binary(trained_home):
    spec = load_spec(trained_home, "phase-1", "prob-1")
    return spec, Registry(trained_home).load(spec.name)


def test_a_slower_champion_is_rolled_back_a_similar_one_kept(binary):
    spec, bundle = binary
    config = AutopilotConfig(latency_ratio=3.0)
    bake = Bake("2", "1", since=30.0)
    slow = Watch(batches(["1"] * 30 + ["2"] * 30, [5.0] * 30 + [20.0] * 30, [0] * 60), NO_LABELS)
    verdict = judge_bake(bake, slow, spec, bundle, [0, 1], config)
    assert verdict.rollback and "4.0x v1's server time per row" in verdict.reason
    similar = Watch(batches(["1"] * 30 + ["2"] * 30, [5.0] * 30 + [6.0] * 30, [0] * 60), NO_LABELS)
    verdict = judge_bake(bake, similar, spec, bundle, [0, 1], config)
    assert not verdict.rollback and "0 labelled rows answered so far" in verdict.reason
    # Too few batches of the new champion to judge its speed yet.
    early = Watch(batches(["1"] * 30 + ["2"] * 5, [5.0] * 30 + [50.0] * 5, [0] * 35), NO_LABELS)
    assert not judge_bake(bake, early, spec, bundle, [0, 1], config).rollback


def test_the_latency_limit_allows_what_the_recipe_chose_knowingly(binary):
    spec, bundle = binary
    lean, costly = Cost(0.02, 1.0), Cost(0.2, 10.0)
    # Without served batches, the recipe's own figure for the rest of a request.
    assert expected_slowdown(costly, lean) == pytest.approx((7.5 + 10.0) / (7.5 + 1.0))
    assert expected_slowdown(lean, costly) == 1.0  # a faster champion gets no allowance
    assert expected_slowdown(costly, None) == 1.0  # no recorded cost
    config = AutopilotConfig(latency_ratio=3.0)
    bake = Bake("2", "1", since=30.0)
    # 1,000-row batches that took 5 ms with the lean forest (1 ms of it): the rest is 4 ms,
    # so the costly forest makes them (4 + 10) / 5 = 2.8 times as slow.
    slow = Watch(
        batches(["1"] * 30 + ["2"] * 30, [5.0] * 30 + [20.0] * 30, [0] * 60, rows=1000),
        NO_LABELS,
    )
    kept = judge_bake(bake, slow, spec, bundle, [0, 1], config, costs=(costly, lean))
    assert not kept.rollback
    assert kept.evidence["latency_expected"] == pytest.approx(2.8)
    assert kept.evidence["latency_limit"] == pytest.approx(3.0 * 2.8)
    slower = Watch(
        batches(["1"] * 30 + ["2"] * 30, [5.0] * 30 + [45.0] * 30, [0] * 60, rows=1000),
        NO_LABELS,
    )
    verdict = judge_bake(bake, slower, spec, bundle, [0, 1], config, costs=(costly, lean))
    assert verdict.rollback and "of which 2.8x expected by its recipe" in verdict.reason


def test_a_champion_worse_on_the_rows_it_answered_is_rolled_back(binary):
    from problems import binary_frame

    spec, predecessor = binary
    frame = binary_frame(600, 9)
    good = predecessor.predict_frame(frame)
    labelled = frame.assign(key="k", row=range(600), received_at=40.0, model_version="2")
    bake = Bake("2", "1", since=30.0)
    config = AutopilotConfig(bake_min_rows=200)
    calm = batches(["1"] * 30, [5.0] * 30, [0] * 30)
    same = judge_bake(
        bake, Watch(calm, labelled.assign(prediction=good)), spec, predecessor, [0, 1], config
    )
    assert not same.rollback and "gain +0.0000" in same.reason
    inverted = [1 - p for p in good]
    worse = judge_bake(
        bake, Watch(calm, labelled.assign(prediction=inverted)), spec, predecessor, [0, 1], config
    )
    assert worse.rollback and "worse than its predecessor" in worse.reason
    assert worse.evidence["labelled_rows"] == 600
    # Rows answered before the promotion, or by another version, are not its evidence.
    before = labelled.assign(prediction=inverted, received_at=10.0)
    assert not judge_bake(bake, Watch(calm, before), spec, predecessor, [0, 1], config).rollback


def estimate(version: str, value: float, half_width: float, *, in_region: bool = True):
    from mara.estimate import PerformanceEstimate

    return PerformanceEstimate(
        version,
        "auc",
        500,
        value,
        value - half_width,
        value + half_width,
        0.85,
        in_region,
        "",
        None,
        None,
    )


def test_an_estimated_drop_judges_before_any_label(binary):
    spec, predecessor = binary
    bake = Bake("2", "1", since=30.0)
    calm = Watch(batches(["1"] * 30, [5.0] * 30, [0] * 30), NO_LABELS)
    config = AutopilotConfig()
    bad = (estimate("2", 0.51, 0.03), estimate("1", 0.84, 0.02))
    verdict = judge_bake(bake, calm, spec, predecessor, [0, 1], config, bad)
    assert verdict.rollback and "estimated before labels" in verdict.reason
    assert verdict.evidence["estimated_champion"] == 0.51
    # Overlapping bands, or traffic outside where the estimate holds: no verdict from it.
    close = (estimate("2", 0.82, 0.03), estimate("1", 0.84, 0.02))
    assert not judge_bake(bake, calm, spec, predecessor, [0, 1], config, close).rollback
    outside = (estimate("2", 0.51, 0.03, in_region=False), estimate("1", 0.84, 0.02))
    assert not judge_bake(bake, calm, spec, predecessor, [0, 1], config, outside).rollback


def test_an_estimated_drop_of_the_champion_triggers_improve_once_labels_come():
    config = AutopilotConfig(min_drift_labels=200)
    calm = Watch(batches(["1"] * 10, [5.0] * 10, [0] * 10), LABELLED)
    dropped = estimate("1", 0.70, 0.03)
    assert improve_trigger(calm, 900, config, dropped) is None  # 100 new labelled rows
    assert "below the holdout's 0.8500" in improve_trigger(calm, 800, config, dropped)
    assert improve_trigger(calm, 800, config, estimate("1", 0.84, 0.03)) is None
