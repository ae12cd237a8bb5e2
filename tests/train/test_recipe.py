"""The training recipe's invariants: what it learns from, how many rounds, how long it searches."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from problems import binary_frame, multiclass_frame, write_problem

from mara.errors import DataError
from mara.forests import BlendForest, CatBoostForest
from mara.preprocess import Preprocessor
from mara.registry import Registry
from mara.spec import ProblemSpec
from mara.train import TrainConfig, catboost_cv, train_problem
from mara.train.budget import Budget
from mara.train.data import label_values, load_training_table
from mara.train.learners import REQUEST_MS, Cost, Scored, choose_learner, slowdown
from mara.train.recipe import fit_model, with_masked_copy
from mara.train.search import DEFAULT_ROUNDS, DEFAULT_SHAPE, Trial, choose, cv_folds, search

BINARY = ProblemSpec("p", "q", ("amount", "age", "noise"), ("channel", "region"), "label")
MULTICLASS = ProblemSpec("p", "m", ("x", "y"), ("proto",), "kind")
# The tests of LightGBM's search force it: CatBoost would share the budget and may win.
LIGHTGBM = ("lightgbm",)


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


@pytest.mark.parametrize(
    ("spec", "frame"),
    [
        (BINARY, binary_frame(1200, 3)),
        (MULTICLASS, multiclass_frame(1200, 4)),
    ],
)
def test_the_refit_uses_the_chosen_rounds(spec: ProblemSpec, frame: pd.DataFrame):
    bundle = fit(spec, frame, config=TrainConfig(budget=2.0, learners=LIGHTGBM))
    recipe = bundle.recipe
    per_round = 1 if len(bundle.classes) == 2 else len(bundle.classes)
    assert bundle.forest.booster.current_iteration() == recipe["rounds"] >= recipe["cv_rounds"]
    assert bundle.forest.booster.num_trees() == recipe["trees"] == recipe["rounds"] * per_round
    assert recipe["candidates"] >= 1
    assert bundle.forest.booster.params["num_leaves"] == recipe["num_leaves"]
    assert bundle.forest.booster.params["learning_rate"] == recipe["learning_rate"]
    # Chosen by the score the holdout judges: accuracy for multiclass, not log-loss.
    assert ("cv_auc" if per_round == 1 else "cv_accuracy") in recipe


def test_a_search_stays_within_its_budget():
    frame = binary_frame(1500, 5)
    used = {}
    for budget in (1.0, 400.0, 3000.0):
        clock = counting_clock()
        config = TrainConfig(budget=budget, learners=LIGHTGBM)
        bundle = fit(BINARY, frame, config=config, clock=clock)
        used[budget] = bundle.recipe
        # Read once per boosting round and once per decision to start a candidate: the
        # search ends within a few reads of its deadline.
        assert bundle.recipe["search_seconds"] <= budget + 10
    assert used[1.0]["candidates"] == 1
    assert used[1.0]["cv_rounds"] == 1  # cut at the deadline, keeping its one round
    # ... and refitted with LightGBM's default rounds, not left unconverged at one.
    assert used[1.0]["rounds"] == DEFAULT_ROUNDS
    assert used[1.0]["num_leaves"] == DEFAULT_SHAPE["num_leaves"]
    assert used[1.0]["candidates"] < used[400.0]["candidates"] <= used[3000.0]["candidates"]
    assert used[3000.0]["rounds"] >= used[3000.0]["cv_rounds"]  # converged: its own rounds


def test_a_flat_curve_keeps_the_default_rounds():
    # One cut separates the classes: every round after the first few scores the same, so the
    # best round is luck, and LightGBM's default rounds are refitted (unscaled, as its own).
    frame = binary_frame(1200, 3).assign(label=lambda f: (f.amount > 20).astype(int))
    config = TrainConfig(budget=2.0, missing_augment=0, learners=LIGHTGBM)
    bundle = fit(BINARY, frame, config=config)
    assert bundle.recipe["default_rounds"]
    assert bundle.recipe["cv_rounds"] == bundle.recipe["rounds"] == DEFAULT_ROUNDS
    assert bundle.forest.booster.current_iteration() == DEFAULT_ROUNDS


def test_rounds_that_beat_the_default_fold_by_fold_replace_it():
    # A smooth additive signal: small trees keep improving long after 100 rounds.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, 8))
    spec = ProblemSpec("p", "a", tuple(f"x{i}" for i in range(8)), (), "label")
    frame = pd.DataFrame(x, columns=spec.numeric)
    frame["label"] = (rng.random(3000) < 1 / (1 + np.exp(-x.sum(axis=1)))).astype(int)
    recipe = fit(spec, frame, config=TrainConfig(budget=10.0, learners=LIGHTGBM)).recipe
    assert not recipe["default_rounds"]
    assert recipe["cv_rounds"] > DEFAULT_ROUNDS
    assert recipe["rounds"] == round(recipe["cv_rounds"] / 0.8)  # 5 folds: a fold has 80%


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
    config = TrainConfig(budget=2.0, learners=LIGHTGBM)
    bundle = fit(BINARY, binary_frame(800, 8), config=config, progress=lines.append)
    # Every LightGBM candidate, the choice, the refit.
    assert len(lines) == bundle.recipe["candidates"] + 2
    assert lines[-1].startswith("refit on all 800 rows")
    lines.clear()
    bundle = fit(BINARY, binary_frame(800, 8), progress=lines.append)
    # ... and CatBoost, the blend, and a refit per part of the chosen learner.
    refits = 2 if bundle.learner == "blend" else 1
    assert len(lines) == bundle.recipe["candidates"] + 3 + refits
    assert any(line.startswith("catboost") for line in lines)
    assert any(line.startswith(f"chose {bundle.learner}") for line in lines)


def test_small_tables_are_folded_again_reshuffled():
    config = TrainConfig(folds=5, repeats=3)
    y = np.tile([0, 0, 0, 1], 150)
    folds = cv_folds(y, config)
    assert len(folds) == 15
    for repeat in range(3):
        split = folds[5 * repeat : 5 * repeat + 5]
        assert sorted(np.concatenate([valid for _, valid in split])) == list(range(600))
        for fit, valid in split:
            assert not set(fit) & set(valid)
            assert len(fit) + len(valid) == 600
    assert not np.array_equal(folds[0][1], folds[5][1])  # reshuffled, not the same folds
    assert len(cv_folds(np.tile([0, 1], 1000), config)) == 5  # 2,000 rows: 5 folds, once
    assert len(cv_folds(np.tile([0, 1], 3000), config)) == 3  # 6,000 rows: 3 folds
    assert len(cv_folds(np.tile([0, 1], 15000), config)) == 1  # 30,000 rows: one split


def test_a_single_split_is_scored_in_parts():
    # Above `large_rows` one 80/20 split: its validation rows, scored in five interleaved
    # parts, give the spread that folds give on smaller tables.
    frame = binary_frame(3000, 9)
    config = TrainConfig(large_rows=1000)
    y = frame["label"].to_numpy()
    folds = cv_folds(y, config)
    assert len(folds) == 1
    x = Preprocessor(BINARY).fit(frame).transform(frame)
    dataset = lgb.Dataset(
        x, y, params={"verbosity": -1, "feature_pre_filter": False}, free_raw_data=False
    )
    base = {"objective": "binary", "metric": "auc", "verbosity": -1, "num_threads": 1}
    found = search(
        dataset,
        folds,
        base,
        n_rows=3000,
        with_copies=False,
        minority_share=0.4,
        config=config,
        budget=Budget(3.0),
    )
    for candidate in found.trials:
        assert len(candidate.fold_scores) == 5
        assert len(set(candidate.fold_scores)) > 1
        assert candidate.score == pytest.approx(np.mean(candidate.fold_scores))


def trial(name: str, fold_scores: list[float], trees: int = 100) -> Trial:
    params = {"learning_rate": 0.1, "num_leaves": 31, "name": name}
    return Trial(
        params,
        trees,
        trees,
        float(np.mean(fold_scores)),
        tuple(fold_scores),
        1.0,
        cut_by_budget=False,
    )


def test_the_default_shape_is_kept_unless_beaten_fold_by_fold():
    default = trial("default", [0.80, 0.70, 0.90, 0.75, 0.85])
    # Higher on average, but by luck: better on two folds, worse on three.
    lucky = trial("lucky", [0.86, 0.76, 0.88, 0.74, 0.84])
    assert lucky.score > default.score
    assert choose([default, lucky], 5, evidence=1.0) is default
    # A little higher on every fold: the spread between folds does not hide it.
    steady = trial("steady", [0.81, 0.71, 0.91, 0.76, 0.86])
    assert choose([default, lucky, steady], 5, evidence=1.0) is steady
    assert choose([default, steady], 5, evidence=float("inf")) is default
    # As good as the chosen one within a quarter standard error, with fewer trees: cheaper.
    assert choose([default, lucky], 5, evidence=0.0) is lucky
    cheaper = trial("lucky", list(lucky.fold_scores), trees=99)
    assert choose([default, cheaper], 5, evidence=1.0) is cheaper
    small = trial("small", [0.8102, 0.7098, 0.9101, 0.7599, 0.8601], trees=40)
    assert choose([default, steady, small], 5, evidence=1.0) is small


def test_masked_rows_weigh_less_than_their_originals():
    frame = binary_frame(500, 2)
    preprocessor = Preprocessor(BINARY).fit(frame)
    x = preprocessor.transform(frame)
    y, w = frame["label"].to_numpy(), np.full(len(frame), 2.0)
    rows, labels, weights = with_masked_copy(x, y, w, preprocessor, TrainConfig(masked_weight=0.5))
    assert np.array_equal(rows[:500], x) and np.isnan(rows[500:]).mean() > 0.1
    assert np.array_equal(labels, np.concatenate([y, y]))
    assert np.array_equal(weights, np.concatenate([w, w / 2]))
    unmasked = with_masked_copy(x, y, w, preprocessor, TrainConfig(missing_augment=0))
    assert unmasked[0] is x and unmasked[2] is w


def levels_frame(rows: int, seed: int, levels: int = 300) -> pd.DataFrame:
    """A high-cardinality categorical whose levels carry the signal (a merchant's own rate)."""
    rng = np.random.default_rng(seed)
    rate = rng.beta(0.5, 0.5, size=levels)
    level = rng.integers(0, levels, size=rows)
    return pd.DataFrame(
        {
            "x": rng.normal(size=rows),
            "merchant": [f"m{i}" for i in level],
            "label": (rng.random(rows) < rate[level]).astype(int),
        }
    )


LEVELS = ProblemSpec("p", "h", ("x",), ("merchant",), "label")


def test_catboost_is_chosen_where_it_clearly_wins():
    # CatBoost's target statistics read 300 levels from a few rows each; LightGBM overfits.
    config = TrainConfig(budget=3.0, learners=("lightgbm", "catboost"))
    bundle = fit(LEVELS, levels_frame(2000, 0), config=config)
    recipe = bundle.recipe
    assert bundle.learner == recipe["learner"] == "catboost"
    assert isinstance(bundle.forest, CatBoostForest)
    assert recipe["cv_catboost"] > recipe["cv_lightgbm"] + 0.02
    assert recipe["choice"].startswith("catboost beat lightgbm")
    assert bundle.forest.trees == recipe["catboost_rounds"]
    dirty = pd.DataFrame({"x": [None, "abc", 1.0], "merchant": ["m1", "never seen", None]})
    assert all(0 <= p <= 1 for p in bundle.predict_frame(dirty))


def test_catboost_learns_at_least_lightgbms_default_at_its_rate():
    # Rounds times the rate: LightGBM's default 100 rounds at 0.1. At CatBoost's slower
    # rates its folds run that far before they may stop, and keep at least that many.
    config = TrainConfig(budget=20.0, learners=("catboost",))
    recipe = fit(LEVELS, levels_frame(1500, 1), config=config).recipe
    rate = recipe["catboost_learning_rate"]
    fewest = catboost_cv.in_rounds(DEFAULT_ROUNDS, rate, config)
    assert rate < config.learning_rate and fewest > DEFAULT_ROUNDS
    assert recipe["catboost_fewest_rounds"] == fewest
    assert fewest <= recipe["catboost_cv_rounds"] <= recipe["catboost_rounds"]


def test_lightgbm_is_kept_where_the_learners_tie():
    # One category is the class: every learner scores 1.0 on every fold.
    frame = binary_frame(1200, 3).assign(label=lambda f: (f.channel == "web").astype(int))
    bundle = fit(BINARY, frame, config=TrainConfig(budget=3.0, missing_augment=0))
    recipe = bundle.recipe
    assert recipe["cv_lightgbm"] == recipe["cv_catboost"] == recipe["cv_blend"] == 1.0
    assert bundle.learner == "lightgbm" and recipe["choice"].startswith("kept lightgbm")


@pytest.mark.parametrize(
    ("learner", "forest"), [("catboost", CatBoostForest), ("blend", BlendForest)]
)
def test_a_learner_can_be_forced(learner: str, forest: type):
    frame = multiclass_frame(900, 2)
    bundle = fit(MULTICLASS, frame, config=TrainConfig(budget=2.0, learners=(learner,)))
    assert bundle.learner == bundle.recipe["learner"] == learner
    assert isinstance(bundle.forest, forest)
    assert bundle.recipe["choice"] == f"{learner} was the only learner allowed"
    if learner == "blend":
        assert 0 < bundle.forest.weights[0] == bundle.recipe["blend_weight"] < 1
    predicted = bundle.predict_frame(frame)
    assert set(predicted) <= set(bundle.classes)
    assert np.mean(np.array(predicted) == frame["kind"].to_numpy()) > 0.6
    with pytest.raises(ValueError, match="learners"):
        TrainConfig(learners=("xgboost",))


def scored(name: str, fold_scores: list[float], ms: float, one: float = 0.02) -> Scored:
    return Scored(name, (), tuple(fold_scores), Cost(one, ms))


def test_a_slower_learner_must_beat_every_faster_one_by_its_noise():
    lightgbm = scored("lightgbm", [0.80, 0.70, 0.90, 0.75, 0.85], ms=1.0)
    catboost = scored("catboost", [0.81, 0.71, 0.91, 0.76, 0.86], ms=2.0)
    # Higher than CatBoost on average, but not fold by fold: the slower blend does not win.
    blend = scored("blend", [0.83, 0.70, 0.91, 0.77, 0.86], ms=3.0)
    chosen, why = choose_learner([lightgbm, catboost, blend], 5, evidence=1.0)
    assert chosen is catboost and why.startswith("catboost beat lightgbm")
    # Faster than LightGBM, it still must beat the default by the evidence.
    lucky = scored("catboost", [0.86, 0.76, 0.88, 0.74, 0.84], ms=0.5)
    assert choose_learner([lightgbm, lucky], 5, evidence=1.0)[0] is lightgbm
    steady = scored("blend", [0.84, 0.73, 0.94, 0.79, 0.89], ms=3.0)
    assert choose_learner([lightgbm, catboost, steady], 5, evidence=1.0)[0] is steady


def test_the_evidence_needed_grows_with_the_time_a_request_takes():
    lightgbm = scored("lightgbm", [0.80, 0.70, 0.90, 0.75, 0.85], ms=1.0)
    # Better than LightGBM fold by fold by 2.7 standard errors.
    folds = [0.815, 0.700, 0.912, 0.752, 0.866]
    cheap = scored("catboost", folds, ms=1.5, one=0.1)
    chosen, why = choose_learner([lightgbm, cheap], 5, evidence=1.0)
    assert chosen is cheap and "needed 1." in why
    # As much better, but making a 1,000-row request 8 times as slow: 3 more standard errors.
    ms = 8 * (REQUEST_MS[1] + 1.0) - REQUEST_MS[1]
    slow = scored("catboost", folds, ms=ms, one=0.1)
    assert slowdown(slow.cost, lightgbm.cost) == pytest.approx(8)
    kept, why = choose_learner([lightgbm, slow], 5, evidence=1.0)
    assert kept is lightgbm
    assert why.startswith("kept lightgbm") and "won 2.7 of the 4.0 needed over lightgbm" in why
    # A 1-row call's cost counts alone too: fast on 1,000 rows, slow on one.
    ms_one = 8 * (REQUEST_MS[0] + 0.02) - REQUEST_MS[0]
    slow_call = scored("catboost", folds, ms=0.5, one=ms_one)
    assert choose_learner([lightgbm, slow_call], 5, evidence=1.0)[0] is lightgbm
