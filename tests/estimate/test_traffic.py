"""estimate_performance on captured traffic: real MLflow store, real trained models."""

import math
from pathlib import Path

import numpy as np
import pytest
from command import mara
from labelled_capture import BINARY, HOUR_NS, MULTI, capture
from problems import binary_frame, write_problem
from sklearn.metrics import roc_auc_score

from mara.errors import RegistryError
from mara.estimate import (
    PerformanceEstimator,
    estimate_performance,
    estimate_windows,
    ready_version,
)
from mara.estimate.version import forget_loaded
from mara.home import Home, Problem
from mara.registry import Registry
from mara.spec import load_spec
from mara.train import TrainConfig, train_problem
from mara.train.data import load_training_table


def test_fitted_on_the_holdout_never_on_training_rows(home: Path):
    ready = ready_version(home, *BINARY, "1")
    table = load_training_table(home, load_spec(home, *BINARY), holdout=0.2, seed=0)
    assert ready.estimator.holdout_rows_ == len(table.holdout) == 1000
    expected = ready.bundle.preprocessor.transform(table.holdout_frame)
    np.testing.assert_array_equal(ready.holdout, expected)
    # The baseline is the holdout AUC `mara train` logged, not the training rows' (higher) AUC.
    assert ready.estimator.baseline_ == pytest.approx(ready.bundle.metrics["auc"])
    train_scores = ready.bundle.predict_frame(table.train_frame)
    assert roc_auc_score(table.labels.iloc[table.train], train_scores) > ready.estimator.baseline_
    # The very estimator one fits by hand on the holdout's scores and labels.
    holdout_scores = ready.bundle.predict_frame(table.holdout_frame)
    by_hand = PerformanceEstimator().fit(holdout_scores, table.labels.iloc[table.holdout])
    assert by_hand.as_dict() == ready.estimator.as_dict()


def test_a_version_trained_with_another_seed_is_calibrated_on_its_own_holdout(tmp_path: Path):
    write_problem(
        tmp_path, *BINARY, binary_frame(2000, 3), ["amount", "age", "noise"], ["channel", "region"]
    )
    train_problem(tmp_path, *BINARY, config=TrainConfig(seed=3, budget=1))
    ready = ready_version(tmp_path, *BINARY, "1")
    assert ready.holdout_split == {"holdout": 0.2, "seed": 3.0}
    assert ready.estimator.baseline_ == pytest.approx(ready.bundle.metrics["auc"])


@pytest.mark.parametrize("problem", [BINARY, MULTI])
def test_the_band_covers_the_realized_metric_on_traffic_like_the_holdout(home: Path, problem):
    found = estimate_windows(home, *problem, "1", until_ns=4 * HOUR_NS)
    assert [e.start_ns for e in found] == [HOUR_NS, 2 * HOUR_NS, 3 * HOUR_NS]
    for e in found:
        assert e.n_rows == e.labelled_rows == 1000 and e.batches == 4
        assert e.in_region, e.reason
        assert e.low <= e.realized <= e.high, e.line()
        assert e.low <= e.estimate <= e.high
        assert abs(e.estimate - e.baseline) < 0.05
        assert not e.below_baseline
    assert found[0].metric == ("auc" if problem == BINARY else "accuracy")


def test_the_region_flag_fires_when_traffic_leaves_the_holdouts_range(home: Path):
    (far,) = estimate_windows(home, *BINARY, "1", since_ns=5 * HOUR_NS)
    assert not far.in_region
    assert far.outside_share > 0.9 and far.domain_auc > 0.95
    assert "outside the holdout's region" in far.reason
    assert not far.below_baseline  # an estimate out of its region is no evidence of a drop


def test_the_estimator_is_fitted_once_and_kept(home: Path):
    path = Home(home).estimate(Problem(*MULTI), "1")
    first = estimate_performance(home, *MULTI, "1")
    written = path.stat().st_mtime_ns
    forget_loaded()
    again = estimate_performance(home, *MULTI, "1")
    assert path.stat().st_mtime_ns == written  # read back, not fitted again
    assert again == first
    assert first.n_rows == 3000 and first.batches == 12
    path.write_text("{not json")  # damaged: fitted again and rewritten whole
    forget_loaded()
    assert estimate_performance(home, *MULTI, "1") == first
    assert path.read_text().startswith("{")
    assert not list(path.parent.glob(".*partial"))


def test_no_traffic_in_the_window_is_an_empty_estimate(home: Path):
    empty = estimate_performance(home, *BINARY, "1", since_ns=100 * HOUR_NS)
    assert empty.n_rows == 0 and empty.batches == 0 and math.isnan(empty.estimate)
    assert not empty.in_region and empty.reason == "no captured traffic in this window"
    assert empty.as_dict()["estimate"] is None
    assert estimate_windows(home, *BINARY, "1", served_by="7") == []


def test_an_unknown_version_is_a_clear_error(home: Path):
    with pytest.raises(RegistryError, match=r"p_bin has no version 9 \(versions: 1\)"):
        estimate_performance(home, *BINARY, "9")


def test_labels_of_one_class_leave_the_realized_metric_empty(tmp_path: Path):
    write_problem(
        tmp_path, *BINARY, binary_frame(2000, 4), ["amount", "age", "noise"], ["channel", "region"]
    )
    train_problem(tmp_path, *BINARY, config=TrainConfig(budget=1))
    window = binary_frame(300, 40)
    window["label"] = 0
    capture(tmp_path, BINARY, window, "zeros", 3600.0)
    found = estimate_performance(tmp_path, *BINARY, "1")
    assert found.labelled_rows == 300 and found.realized is None
    assert math.isfinite(found.estimate) and found.low < found.high
    assert Registry(tmp_path).versions("p_bin") == ["1"]


@pytest.mark.e2e
def test_the_cli_prints_one_line_per_window_and_fails_in_one_line(home: Path):
    run = mara(home, "estimate", "--phase", "p", "--prob", "bin")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.strip().splitlines()
    assert sum(" rows  auc " in line for line in lines) == 4
    assert "OUT OF REGION" in lines[-2] or "OUT OF REGION" in run.stdout
    unknown = mara(home, "estimate", "--phase", "p", "--prob", "bin", "--version", "9")
    assert unknown.returncode == 1 and "Traceback" not in unknown.stderr
    assert "p_bin has no version 9" in unknown.stderr
    binary = mara(home, "estimate", "--phase", "p", "--prob", "bin", "--calibration", "temperature")
    assert binary.returncode == 2 and "calibrations are none, platt, isotonic" in binary.stderr
