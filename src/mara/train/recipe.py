"""The training recipe: labelled raw rows in, a fitted ModelBundle out.

`mara train` and `mara improve` both fit through `fit_model`, so a challenger is made exactly
the way a first model is; only the rows they are given and how they are judged differ.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from mara.drift import DriftDetector
from mara.errors import DataError
from mara.forests import BlendForest, LightGBMForest
from mara.labels import positive_class
from mara.model import ModelBundle
from mara.preprocess import Preprocessor
from mara.spec import ProblemSpec
from mara.train import catboost_cv
from mara.train.budget import Budget, Clock
from mara.train.config import TrainConfig
from mara.train.learners import (
    LEARNERS,
    Cost,
    Scored,
    blend,
    choose_learner,
    cost_entries,
    lightgbm_cost,
    score_sets,
)
from mara.train.search import (
    PARTS,
    Progress,
    cv_folds,
    out_of_fold,
    search,
    split_size,
    validation_sets,
)

__all__ = ["encode_labels", "fit_model", "masked_copy", "with_masked_copy"]

log = logging.getLogger(__name__)

# The share of the budget LightGBM's search has when CatBoost is scored too (CatBoost has
# the rest, and whatever the search left).
_LIGHTGBM_SHARE = 0.5


def fit_model(
    spec: ProblemSpec,
    frame: pd.DataFrame,
    labels: pd.Series,
    classes: list[Any],
    *,
    config: TrainConfig,
    weights: np.ndarray | None = None,
    progress: Progress | None = None,
    clock: Clock = time.process_time,
    refitted: Callable[[lgb.Booster], None] | None = None,
) -> ModelBundle:
    """Fit the Preprocessor, the forest and the drift reference on these rows only.

    `frame` holds raw feature cells (as in the training table or as requests sent them),
    `labels` the original labels, `weights` an optional weight per row (1 by default). The
    learner (LightGBM, CatBoost or their blend, of `config.learners`), the forest's shape
    and its rounds are chosen by cross-validation on these rows, on the same folds, within
    `config.search_budget(rows)` seconds of `clock` (CPU seconds; see mara.train.learners
    for the rule), then it is refitted on all of them. `progress` hears one line per
    candidate. `refitted`, if given, hears LightGBM's refit as soon as its search ends,
    before CatBoost's folds, whichever learner wins: `mara train` compiles it meanwhile in
    another process (the refit's CPU is not counted in the budget).

    `bundle.recipe` holds the learner, each learner's score (`cv_lightgbm`, `cv_catboost`,
    `cv_blend`), LightGBM's search (its keys as `Search.summary` names them, whichever
    learner won), CatBoost's rate and rounds (`catboost_rounds` refitted,
    `catboost_cv_rounds` in the folds, `catboost_fewest_rounds` at its rate), the blend's
    weight on LightGBM, each learner's served milliseconds for a 1-row and a 1,000-row call
    (`served_ms_1_row_catboost`, ...; the chosen one's as `served_ms_1_row` and
    `served_ms_per_1000_rows`), the reason for the choice in words, and the search's
    `budget` and `search_seconds` (CPU seconds: allowed, used).
    """
    y = encode_labels(labels, classes)
    w = _weights(weights, len(y))
    preprocessor = Preprocessor(spec).fit(frame)
    x = preprocessor.transform(frame)
    rows, targets, row_weights = with_masked_copy(x, y, w, preprocessor, config)
    copies = len(rows) // len(x)
    folds = cv_folds(y, config)
    validations = validation_sets(folds, len(x), with_copies=copies > 1)
    per_split = split_size(folds, len(x))
    parts = PARTS if len(folds) == 1 else 1
    wanted = set(config.learners)
    runs_lightgbm = bool(wanted & {"lightgbm", "blend"})
    runs_catboost = bool(wanted & {"catboost", "blend"})
    seconds = config.search_budget(len(x))
    budget = Budget(seconds, clock=clock)
    candidates: dict[str, Scored] = {}
    recipe: dict[str, Any] = {}

    def scored(learner: str, predictions: list[np.ndarray], cost: Cost) -> Scored:
        scores = score_sets(predictions, validations, targets, row_weights, parts=parts)
        candidates[learner] = Scored(learner, tuple(predictions), scores, cost)
        recipe[f"cv_{learner}"] = round(candidates[learner].score, 6)
        return candidates[learner]

    if runs_lightgbm:
        dataset = _dataset(rows, targets, row_weights, preprocessor)
        base = _base_params(len(classes), config)
        share = _LIGHTGBM_SHARE if runs_catboost else 1.0
        found = search(
            dataset,
            folds,
            base,
            n_rows=len(x),
            with_copies=copies > 1,
            minority_share=float(np.bincount(y).min() / len(y)),
            config=config,
            budget=Budget(seconds * share, clock=clock),
            progress=progress,
        )
        recipe |= found.summary()
        lightgbm_trees = recipe["trees"]
        oof = out_of_fold(found.chosen, rows, validations)
        scored("lightgbm", oof, lightgbm_cost(lightgbm_trees))

    def refit_lightgbm() -> lgb.Booster:
        if progress is not None:
            progress(f"refit on all {len(x)} rows: {found.chosen.label()}, {found.rounds} rounds")
        return lgb.train(base | found.chosen.params, dataset, num_boost_round=found.rounds)

    booster = None
    if runs_lightgbm and refitted is not None:
        with budget.paused():
            booster = refit_lightgbm()
        refitted(booster)
    if runs_catboost:
        run = catboost_cv.cross_validate(
            rows,
            targets,
            row_weights,
            validations,
            n_numeric=len(spec.numeric),
            n_classes=len(classes),
            config=config,
            budget=budget,
        )
        catboost_trees = catboost_cv.refit_rounds(run, folds, len(x))
        # The fold model's measured cost, and the refit's extra trees at CatBoost's per tree.
        extra = catboost_cv.TREE_MS * (catboost_trees - run.rounds)
        cost = run.cost + Cost(extra / 1000, extra)
        catboost = scored("catboost", list(run.predictions), cost)
        recipe |= {
            "catboost_rounds": catboost_trees,
            "catboost_cv_rounds": run.rounds,
            "catboost_fewest_rounds": run.fewest,
            "catboost_learning_rate": round(run.params["learning_rate"], 6),
        }
        if progress is not None:
            cut = " (cut at the deadline)" if run.cut_by_budget else ""
            progress(f"{run.label()}: {run.rounds} rounds{cut}, cv score {catboost.score:.4f}")
    if runs_lightgbm and runs_catboost:
        mixed, weight = blend(
            candidates["lightgbm"],
            candidates["catboost"],
            validations,
            targets,
            row_weights,
            parts=parts,
        )
        candidates["blend"] = mixed
        recipe |= {"cv_blend": round(mixed.score, 6), "blend_weight": weight}
        if progress is not None:
            progress(f"blend, {weight:g} LightGBM: cv score {mixed.score:.4f}")
    allowed = [candidates[name] for name in LEARNERS if name in wanted]
    chosen, why = choose_learner(allowed, per_split, evidence=config.evidence)
    if progress is not None:
        progress(f"chose {chosen.learner}: {why}")
    forests = {}
    if chosen.learner in ("lightgbm", "blend"):
        forests["lightgbm"] = LightGBMForest(booster if booster is not None else refit_lightgbm())
    if chosen.learner in ("catboost", "blend"):
        if progress is not None:
            progress(f"refit on all {len(x)} rows: {run.label()}, {catboost_trees} rounds")
        forests["catboost"] = catboost_cv.refit(
            run, rows, targets, row_weights, n_numeric=len(spec.numeric), n_rows=len(x), folds=folds
        )
    if chosen.learner == "blend":
        forest = BlendForest([forests["lightgbm"], forests["catboost"]], [weight, 1 - weight])
    else:
        forest = forests[chosen.learner]
    bundle = ModelBundle(spec, preprocessor, forest, classes)
    bundle.recipe = {
        "learner": bundle.learner,
        **recipe,
        **{
            f"served_ms_{size}_{c.learner}": round(ms, 4)
            for c in candidates.values()
            for size, ms in (("1_row", c.cost.one), ("1000_rows", c.cost.thousand))
        },
        **cost_entries(chosen.cost),
        "choice": why,
        "budget": round(seconds, 2),
        "search_seconds": round(budget.elapsed(), 2),
    }
    bundle.drift = _fit_drift(preprocessor, x, config)
    return bundle


def encode_labels(labels: pd.Series, classes: list[Any]) -> np.ndarray:
    """Labels as the booster's integer targets (binary: 1 for the positive class)."""
    if len(classes) == 2:
        return (labels == positive_class(classes)).to_numpy(dtype=np.int32)
    index = {c: i for i, c in enumerate(classes)}
    codes = labels.map(index)
    if codes.isna().any():
        raise DataError(f"labels outside the classes {classes}")
    return codes.to_numpy(dtype=np.int32)


def _weights(weights: np.ndarray | None, n: int) -> np.ndarray:
    if weights is None:
        return np.ones(n)
    w = np.asarray(weights, dtype=float)
    if w.shape != (n,):
        raise DataError(f"{w.size} weights for {n} rows")
    if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise DataError("weights must be finite, non-negative and not all zero")
    return w


def with_masked_copy(
    x: np.ndarray, y: np.ndarray, w: np.ndarray, preprocessor: Preprocessor, config: TrainConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rows, labels and weights, then their masked copy (none if `missing_augment` is 0).

    The copy's rows weigh `config.masked_weight` of their originals': at half weight the
    forest still learns where missing cells go, and spends less of itself on them than on
    the rows as they are (benchmarks/train: clean scores up, dirty ones not down).
    """
    if config.missing_augment <= 0:
        return x, y, w
    masked = masked_copy(x, preprocessor, config)
    return (
        np.vstack([x, masked]),
        np.concatenate([y, y]),
        np.concatenate([w, config.masked_weight * w]),
    )


def masked_copy(x: np.ndarray, preprocessor: Preprocessor, config: TrainConfig) -> np.ndarray:
    """A copy of the rows in which cells are missing (or unseen categories).

    Clean training data teaches LightGBM nothing about missing cells: it then routes them
    as zeros. The copy shows it dirty rows with their true labels (and weights).
    """
    rng = np.random.default_rng([config.seed, 2])
    masked = x.copy()
    hit = rng.random(masked.shape) < config.missing_augment
    masked[hit] = np.nan
    unseen = np.asarray(preprocessor.n_categories, dtype=float)
    categorical = np.flatnonzero(preprocessor.categorical_mask)
    for column, code in zip(categorical, unseen, strict=True):
        rows = hit[:, column] & (rng.random(len(masked)) < 0.5)
        masked[rows, column] = code
    return masked


def _base_params(n_classes: int, config: TrainConfig) -> dict[str, Any]:
    """What every candidate shares; the search adds its shape and learning rate."""
    params: dict[str, Any] = {
        "feature_fraction": config.feature_fraction,
        "bagging_fraction": config.bagging_fraction,
        "bagging_freq": 1,
        "num_threads": config.threads,
        "seed": config.seed,
        "verbosity": -1,
        # One binned Dataset serves every candidate, whatever its minimum leaf size.
        "feature_pre_filter": False,
    }
    if n_classes == 2:
        return params | {"objective": "binary", "metric": "auc"}
    # Multiclass models are judged by accuracy: the log-loss's best round comes far earlier
    # than accuracy's (20 against 200 rounds on a 3-class survey table).
    return params | {"objective": "multiclass", "num_class": n_classes, "metric": "multi_error"}


def _dataset(
    x: np.ndarray, y: np.ndarray, w: np.ndarray, preprocessor: Preprocessor
) -> lgb.Dataset:
    categorical = [i for i, is_cat in enumerate(preprocessor.categorical_mask) if is_cat]
    # LightGBM refuses JSON punctuation and spaces in feature names; the model needs none
    # (columns are matched by the Preprocessor), so such names are only made safe here.
    names = [re.sub(r'[\s\[\]{}",:]', "_", name) for name in preprocessor.feature_names]
    if len(set(names)) != len(names):
        names = [f"feature_{i}" for i in range(len(names))]
    return lgb.Dataset(
        x,
        y,
        weight=w,
        feature_name=names,
        categorical_feature=categorical,
        params={"feature_pre_filter": False, "verbosity": -1},
        free_raw_data=False,
    )


def _fit_drift(
    preprocessor: Preprocessor, x: np.ndarray, config: TrainConfig
) -> DriftDetector | None:
    # Every row the model learns from is reference: calibration compares each drawn batch
    # with the rest.
    detector = DriftDetector(alpha=config.drift_alpha, random_state=config.seed)
    try:
        return detector.fit(
            x,
            feature_names=preprocessor.feature_names,
            categorical=preprocessor.categorical_mask,
            n_categories=preprocessor.n_categories,
        )
    except DataError as exc:  # too few rows to calibrate: serve with drift always 0
        log.warning("no drift detector for this model: %s", exc)
        return None
