"""The training recipe: labelled raw rows in, a fitted ModelBundle out.

`mara train` and `mara improve` both fit through `fit_model`, so a challenger is made exactly
the way a first model is; only the rows they are given and how they are judged differ.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from mara.drift import DriftDetector
from mara.errors import DataError
from mara.labels import positive_class
from mara.model import ModelBundle
from mara.preprocess import Preprocessor
from mara.spec import ProblemSpec
from mara.train.config import TrainConfig

__all__ = ["encode_labels", "fit_model"]

log = logging.getLogger(__name__)


def fit_model(
    spec: ProblemSpec,
    frame: pd.DataFrame,
    labels: pd.Series,
    classes: list[Any],
    *,
    config: TrainConfig,
    weights: np.ndarray | None = None,
) -> ModelBundle:
    """Fit the Preprocessor, the forest and the drift reference on these rows only.

    `frame` holds raw feature cells (as in the training table or as requests sent them),
    `labels` the original labels, `weights` an optional weight per row (1 by default).
    """
    y = encode_labels(labels, classes)
    w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=float)
    fit, valid = _early_stopping_split(y, config)
    preprocessor = Preprocessor(spec).fit(frame.iloc[fit])
    x = preprocessor.transform(frame)
    x_fit, y_fit, w_fit = x[fit], y[fit], w[fit]
    if config.missing_augment > 0:
        x_fit, y_fit, w_fit = _with_masked_copy(x_fit, y_fit, w_fit, preprocessor, config)
    booster = _fit_booster(
        x_fit, y_fit, w_fit, x[valid], y[valid], w[valid], preprocessor, len(classes), config
    )
    bundle = ModelBundle(spec, preprocessor, booster, classes)
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


def _early_stopping_split(y: np.ndarray, config: TrainConfig) -> tuple[np.ndarray, np.ndarray]:
    index = np.arange(len(y))
    stratify = y if np.unique(y, return_counts=True)[1].min() >= 2 else None
    fit, valid = train_test_split(
        index, test_size=config.valid, random_state=config.seed, stratify=stratify
    )
    return np.sort(fit), np.sort(valid)


def _with_masked_copy(
    x_fit: np.ndarray,
    y_fit: np.ndarray,
    w_fit: np.ndarray,
    preprocessor: Preprocessor,
    config: TrainConfig,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The fit rows plus a copy in which cells are missing (or unseen categories).

    Clean training data teaches LightGBM nothing about missing cells: it then routes them
    as zeros. The copy shows it dirty rows with their true labels.
    """
    rng = np.random.default_rng([config.seed, 2])
    masked = x_fit.copy()
    hit = rng.random(masked.shape) < config.missing_augment
    masked[hit] = np.nan
    unseen = np.asarray(preprocessor.n_categories, dtype=float)
    categorical = np.flatnonzero(preprocessor.categorical_mask)
    for column, code in zip(categorical, unseen, strict=True):
        rows = hit[:, column] & (rng.random(len(masked)) < 0.5)
        masked[rows, column] = code
    return (
        np.vstack([x_fit, masked]),
        np.concatenate([y_fit, y_fit]),
        np.concatenate([w_fit, w_fit]),
    )


def _fit_booster(
    x_fit: np.ndarray,
    y_fit: np.ndarray,
    w_fit: np.ndarray,
    x_valid: np.ndarray,
    y_valid: np.ndarray,
    w_valid: np.ndarray,
    preprocessor: Preprocessor,
    n_classes: int,
    config: TrainConfig,
) -> lgb.Booster:
    params: dict[str, Any] = {
        "learning_rate": config.learning_rate,
        "num_leaves": config.num_leaves,
        "min_data_in_leaf": config.min_data_in_leaf,
        "feature_fraction": config.feature_fraction,
        "bagging_fraction": config.bagging_fraction,
        "bagging_freq": 1,
        "num_threads": config.threads,
        "seed": config.seed,
        "verbosity": -1,
    }
    if n_classes == 2:
        params |= {"objective": "binary", "metric": "auc"}
    else:
        params |= {"objective": "multiclass", "num_class": n_classes, "metric": "multi_logloss"}
    categorical = [i for i, is_cat in enumerate(preprocessor.categorical_mask) if is_cat]
    # LightGBM refuses JSON punctuation and spaces in feature names; the model needs none
    # (columns are matched by the Preprocessor), so such names are only made safe here.
    names = [re.sub(r'[\s\[\]{}",:]', "_", name) for name in preprocessor.feature_names]
    if len(set(names)) != len(names):
        names = [f"feature_{i}" for i in range(len(names))]
    fit_set = lgb.Dataset(
        x_fit,
        y_fit,
        weight=w_fit,
        feature_name=names,
        categorical_feature=categorical,
        free_raw_data=True,
    )
    valid_set = lgb.Dataset(x_valid, y_valid, weight=w_valid, reference=fit_set)
    return lgb.train(
        params,
        fit_set,
        num_boost_round=config.max_rounds,
        valid_sets=[valid_set],
        callbacks=[lgb.early_stopping(config.early_stopping, verbose=False)],
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
