"""The training recipe's invariants: what it learns from, how many rounds, how long it searches."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from problems import binary_frame, multiclass_frame, write_problem

from mara.errors import DataError
from mara.registry import Registry
from mara.spec import ProblemSpec
from mara.train import TrainConfig, train_problem
from mara.train.data import label_values, load_training_table
from mara.train.recipe import fit_model

BINARY = ProblemSpec("p", "q", ("amount", "age", "noise"), ("channel", "region"), "label")
MULTICLASS = ProblemSpec("p", "m", ("x", "y"), ("proto",), "kind")


def counting_clock() -> Callable[[], float]:
    """A clock that moves one unit each time it is read: time is the number of reads."""
    reads = itertools.count()
    return lambda: float(next(reads))


def fit(spec: ProblemSpec, frame: pd.DataFrame, **options) -> object:
    labels, classes = label_values(frame[spec.target])
    config = options.pop("config", TrainConfig(budget=2.0))
    return fit_model(spec, frame, labels, classes, config=config, **options)


def test_the_holdout_never_trains(tmp_path: Path):
    # Every row carries its own category: the model's categories are the rows it learnt from.
    frame = binary_frame(1500, 7).assign(row=[f"r{i}" for i in range(1500)])
    write_problem(tmp_path, "p", "q", frame, ["amount", "age"], ["channel", "row"])
    result = train_problem(tmp_path, "p", "q", config=TrainConfig(budget=2.0))
    spec = Registry(tmp_path).load("p_q").spec
    table = load_training_table(tmp_path, spec, holdout=0.2, seed=0)
    assert not set(table.train) & set(table.holdout)
    learnt = set(Registry(tmp_path).load("p_q").preprocessor.categories_["row"])
    assert learnt == set(table.train_frame["row"])
    assert not learnt & set(table.holdout_frame["row"])
    assert result.rows == {"train": 1200, "holdout": 300}


@pytest.mark.parametrize(("spec", "frame"), [
    (BINARY, binary_frame(1200, 3)), (MULTICLASS, multiclass_frame(1200, 4)),
])
def test_the_refit_uses_the_chosen_rounds(spec: ProblemSpec, frame: pd.DataFrame):
    bundle = fit(spec, frame)
    recipe = bundle.recipe
    per_round = 1 if len(bundle.classes) == 2 else len(bundle.classes)
    assert bundle.booster.current_iteration() == recipe["rounds"] >= recipe["cv_rounds"]
    assert bundle.booster.num_trees() == recipe["trees"] == recipe["rounds"] * per_round
    assert recipe["candidates"] >= 1
    assert bundle.booster.params["num_leaves"] == recipe["num_leaves"]
    assert bundle.booster.params["learning_rate"] == recipe["learning_rate"]


def test_a_search_stays_within_its_budget():
    frame = binary_frame(1500, 5)
    used = {}
    for budget in (1.0, 400.0, 3000.0):
        clock = counting_clock()
        bundle = fit(BINARY, frame, config=TrainConfig(budget=budget), clock=clock)
        used[budget] = bundle.recipe
        # Read once per boosting round and once per decision to start a candidate: the
        # search ends within a few reads of its deadline.
        assert bundle.recipe["search_seconds"] <= budget + 10
    assert used[1.0]["candidates"] == 1
    assert used[1.0]["cv_rounds"] == 1  # cut at the deadline, keeping its one round
    assert used[1.0]["candidates"] < used[400.0]["candidates"] <= used[3000.0]["candidates"]


def test_weights_are_honoured():
    frame = binary_frame(1500, 6)
    labels = frame["label"].to_numpy()
    plain = fit(BINARY, frame)
    heavy = fit(BINARY, frame, weights=np.where(labels == 1, 5.0, 1.0))
    assert np.mean(heavy.predict_frame(frame)) > np.mean(plain.predict_frame(frame)) + 0.05
    with pytest.raises(DataError, match="weights"):
        fit(BINARY, frame, weights=np.ones(10))
    with pytest.raises(DataError, match="weights"):
        fit(BINARY, frame, weights=np.full(len(frame), -1.0))


def test_progress_hears_every_candidate_and_the_refit():
    lines: list[str] = []
    bundle = fit(BINARY, binary_frame(800, 8), progress=lines.append)
    assert len(lines) == bundle.recipe["candidates"] + 1
    assert lines[-1].startswith("refit on all 800 rows")
