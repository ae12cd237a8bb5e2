import os
from pathlib import Path

import pytest
from problems import binary_frame, write_problem

from mara.compiled import COMPILE_LOG, compiled_cache
from mara.errors import DataError, SpecError
from mara.registry import Registry
from mara.train import TrainConfig, train_problem


def test_first_training_registers_and_promotes(trained_home: Path):
    registry = Registry(trained_home)
    served = {(m.phase, m.prob): m for m in registry.served_models()}
    assert set(served) == {("phase-1", "prob-1"), ("phase-1", "prob-2")}
    binary = registry.load("phase-1_prob-1")
    assert binary.classes == [0, 1]
    assert binary.metrics["auc"] > 0.7
    multiclass = registry.load("phase-1_prob-2")
    assert multiclass.classes == ["attack", "normal", "probe"]
    assert multiclass.metrics["accuracy"] > 0.6
    # The blend's LightGBM forest was compiled by a child while CatBoost's folds ran here,
    # once, and the promoted version's served form is what it wrote.
    cache = compiled_cache(trained_home)
    (line,) = (cache / COMPILE_LOG).read_text().splitlines()
    assert f"pid={os.getpid()} " not in line
    assert binary.is_fast_cached(cache)
    assert list(cache.glob("*.part")) == []


def test_champion_rule_both_ways(tmp_path: Path):
    write_problem(
        tmp_path, "p", "q", binary_frame(4000, 3), ["amount", "age", "noise"], ["channel", "region"]
    )
    # A budget no search here reaches: every candidate runs, so the same rows give the same
    # model whatever else the machine is doing.
    unhurried = TrainConfig(budget=600)
    first = train_problem(tmp_path, "p", "q", config=unhurried)
    assert first.promoted and first.champion_before is None

    worse = train_problem(tmp_path, "p", "q", config=TrainConfig(max_rounds=1))
    assert not worse.promoted
    assert worse.champion_before == first.version
    assert worse.metrics["auc"] < worse.champion_metrics["auc"]
    assert Registry(tmp_path).champion_version("p_q") == first.version

    again = train_problem(tmp_path, "p", "q", config=unhurried)
    assert again.promoted  # scores the same as the champion on the same holdout: ties promote
    assert again.champion_metrics["auc"] == pytest.approx(again.metrics["auc"])
    assert Registry(tmp_path).champion_version("p_q") == again.version


def test_training_reports_bad_inputs(tmp_path: Path):
    with pytest.raises(SpecError):
        train_problem(tmp_path, "p", "missing")
    frame = binary_frame(200, 0).assign(label=1)
    write_problem(tmp_path, "p", "one-class", frame, ["amount"], ["channel"])
    with pytest.raises(DataError, match="class"):
        train_problem(tmp_path, "p", "one-class")
    write_problem(
        tmp_path, "p", "no-target", binary_frame(200, 0), ["amount"], [], target="missing_target"
    )
    with pytest.raises(DataError, match="target column"):
        train_problem(tmp_path, "p", "no-target")


def test_too_few_rows_for_drift_calibration_still_trains(tmp_path: Path):
    write_problem(tmp_path, "p", "tiny", binary_frame(36, 0), ["amount", "age"], ["channel"])
    result = train_problem(tmp_path, "p", "tiny")
    assert result.promoted
    assert Registry(tmp_path).load("p_tiny").drift is None


def test_any_column_names_train_and_serve_by_name(tmp_path: Path):
    frame = binary_frame(600, 4).rename(
        columns={
            "amount": "amount, in $",
            "age": 'age {"years"}',
            "channel": "sales channel: [web]",
        }
    )
    numeric = ["amount, in $", 'age {"years"}', "noise"]
    write_problem(tmp_path, "p", "names", frame, numeric, ["sales channel: [web]", "region"])
    train_problem(tmp_path, "p", "names")
    bundle = Registry(tmp_path).load("p_names")
    assert len(bundle.predict_frame(frame.head(5))) == 5
