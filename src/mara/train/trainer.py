"""train_problem: fit, evaluate, log, register and maybe promote one problem's model."""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from mara.compiled import compiled_cache
from mara.drift import DEFAULT_ALPHA, DriftDetector
from mara.errors import DataError
from mara.labels import positive_class
from mara.model import ModelBundle
from mara.preprocess import Preprocessor
from mara.registry import Registry
from mara.spec import ProblemSpec, load_spec
from mara.train.data import label_values, read_training_table, split
from mara.train.metrics import score

__all__ = ["TrainConfig", "TrainResult", "train_problem"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """Training settings; every field is logged as an MLflow parameter."""

    seed: int = 0
    holdout: float = 0.2
    valid: float = 0.15
    learning_rate: float = 0.05
    num_leaves: int = 31
    min_data_in_leaf: int = 20
    feature_fraction: float = 0.9
    bagging_fraction: float = 0.8
    max_rounds: int = 2000
    early_stopping: int = 50
    threads: int = 2
    compile: bool = False
    # Share of cells masked in an extra copy of the fit rows (benchmarks/dirty: 0.2 best).
    missing_augment: float = 0.2
    drift_alpha: float = DEFAULT_ALPHA


@dataclass
class TrainResult:
    """What one training run produced and decided."""

    spec: ProblemSpec
    version: str
    run_id: str
    metrics: dict[str, float]
    champion_before: str | None
    champion_metrics: dict[str, float] | None
    promoted: bool
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def metric(self) -> str:
        """The headline metric's name."""
        return "auc" if "auc" in self.metrics else "accuracy"

    def summary(self) -> str:
        """One paragraph for the terminal."""
        name, value = self.metric, self.metrics[self.metric]
        lines = [
            f"{self.spec.name} v{self.version}: holdout {name} {value:.4f} (rows: {self.rows})"
        ]
        if self.champion_before is None:
            lines.append("no champion yet: promoted")
        else:
            old = (self.champion_metrics or {}).get(name, float("nan"))
            verdict = "promoted" if self.promoted else "kept the champion"
            lines.append(
                f"champion v{self.champion_before} scores {old:.4f} on this holdout: {verdict}"
            )
        return "\n".join(lines)


def train_problem(
    home: Path,
    phase: str,
    prob: str,
    *,
    config: TrainConfig = TrainConfig(),
    registry: Registry | None = None,
) -> TrainResult:
    """Train a model for one problem, register it, and promote it if it is no worse."""
    spec = load_spec(home, phase, prob)
    registry = registry or Registry(home)
    frame = read_training_table(home, spec)
    labels, classes = label_values(frame[spec.target])
    frame = frame.loc[labels.index].reset_index(drop=True)
    labels = labels.reset_index(drop=True)
    if len(classes) < 2:
        raise DataError(f"{spec.name}: the target has {len(classes)} class(es); need two or more")
    y = _encode_labels(labels, classes)
    parts = split(y, holdout=config.holdout, valid=config.valid, seed=config.seed)
    fit_frame, valid_frame = frame.iloc[parts.fit], frame.iloc[parts.valid]
    holdout_frame = frame.iloc[parts.holdout]

    preprocessor = Preprocessor(spec).fit(fit_frame)
    x_fit, x_valid, x_holdout = (
        preprocessor.transform(f) for f in (fit_frame, valid_frame, holdout_frame)
    )
    x_train, y_train = x_fit, y[parts.fit]
    if config.missing_augment > 0:
        x_train, y_train = _with_masked_copy(x_fit, y_train, preprocessor, config)
    booster = _fit_booster(
        x_train, y_train, x_valid, y[parts.valid], preprocessor, len(classes), config
    )
    bundle = ModelBundle(spec, preprocessor, booster, classes)
    bundle.drift = _fit_drift(preprocessor, x_fit, x_holdout, config)
    holdout_labels = labels.iloc[parts.holdout].tolist()
    metrics = score(bundle.predict_matrix(x_holdout), holdout_labels, classes)
    metrics["best_iteration"] = float(booster.best_iteration)
    bundle.metrics = metrics
    rows = {"fit": len(parts.fit), "valid": len(parts.valid), "holdout": len(parts.holdout)}

    with registry.run(spec.name, f"train {spec.name}"):
        registry.log(
            params=asdict(config) | {"classes": len(classes), **rows},
            metrics=metrics,
            tags={"phase": phase, "prob": prob, "mara.kind": "train"},
        )
        version = registry.log_bundle(bundle)
        champion = registry.champion_version(spec.name)
        champion_metrics = None
        if champion is not None:
            old = registry.load(spec.name)
            champion_metrics = score(old.predict_frame(holdout_frame), holdout_labels, classes)
            registry.log(metrics={f"champion_{k}": v for k, v in champion_metrics.items()})
        headline = "auc" if "auc" in metrics else "accuracy"
        promoted = champion is None or metrics[headline] >= champion_metrics[headline]
        if promoted:
            registry.promote(spec.name, version.version)
        registry.log(tags={"mara.promoted": str(promoted).lower()})
    if config.compile and promoted:
        # Warm the server's cache: the compiled forest is ready when the server starts.
        bundle.compile(compiled_cache(home))
    return TrainResult(
        spec, version.version, version.run_id, metrics, champion, champion_metrics, promoted, rows
    )


def _encode_labels(labels: pd.Series, classes: list[Any]) -> np.ndarray:
    if len(classes) == 2:
        return (labels == positive_class(classes)).to_numpy(dtype=np.int32)
    index = {c: i for i, c in enumerate(classes)}
    return labels.map(index).to_numpy(dtype=np.int32)


def _with_masked_copy(
    x_fit: np.ndarray, y_fit: np.ndarray, preprocessor: Preprocessor, config: TrainConfig
) -> tuple[np.ndarray, np.ndarray]:
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
    return np.vstack([x_fit, masked]), np.concatenate([y_fit, y_fit])


def _fit_booster(
    x_fit: np.ndarray,
    y_fit: np.ndarray,
    x_valid: np.ndarray,
    y_valid: np.ndarray,
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
        x_fit, y_fit, feature_name=names, categorical_feature=categorical, free_raw_data=True
    )
    valid_set = lgb.Dataset(x_valid, y_valid, reference=fit_set)
    return lgb.train(
        params,
        fit_set,
        num_boost_round=config.max_rounds,
        valid_sets=[valid_set],
        callbacks=[lgb.early_stopping(config.early_stopping, verbose=False)],
    )


def _fit_drift(
    preprocessor: Preprocessor, x_fit: np.ndarray, x_holdout: np.ndarray, config: TrainConfig
) -> DriftDetector | None:
    # Every training row is reference: calibration compares each drawn batch with the rest.
    detector = DriftDetector(alpha=config.drift_alpha, random_state=config.seed)
    try:
        return detector.fit(
            np.vstack([x_fit, x_holdout]),
            feature_names=preprocessor.feature_names,
            categorical=preprocessor.categorical_mask,
            n_categories=preprocessor.n_categories,
        )
    except DataError as exc:  # too few rows to calibrate: serve with drift always 0
        log.warning("no drift detector for this model: %s", exc)
        return None
