"""One model version made ready to estimate: its model, holdout and fitted estimator.

The estimator is fitted once per version on the holdout of the training table, the rows
that version never trained on (`mara train` and `mara improve` both keep them out), split
with the holdout share and seed logged by the run that registered the version, and kept in
`<home>/estimates/<phase>/<prob>/v<N>.json`. A process keeps its last few versions loaded.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mara.errors import DataError
from mara.estimate.cache import read_cached, write_cached
from mara.estimate.estimator import PerformanceEstimator
from mara.home import Home
from mara.labels import positive_class
from mara.model import ModelBundle
from mara.registry import Registry
from mara.spec import TRAIN_NAME, ProblemSpec, load_spec, problem_dir
from mara.train.config import TrainConfig
from mara.train.data import load_training_table

__all__ = ["ReadyVersion", "forget_loaded", "ready_version"]

_KEEP = 8
_loaded: OrderedDict[tuple, ReadyVersion] = OrderedDict()
_lock = threading.Lock()


@dataclass(frozen=True)
class ReadyVersion:
    """A version with what estimating needs: model, fitted estimator, holdout matrix."""

    spec: ProblemSpec
    version: str
    bundle: ModelBundle
    estimator: PerformanceEstimator
    holdout: np.ndarray
    holdout_split: dict[str, float]

    def scores(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Raw features -> the model's matrix and raw scores (P(positive) or per class)."""
        return _scores(self.bundle, frame)

    def label_codes(self, labels: pd.Series) -> np.ndarray:
        """Binary: 1 for the positive class; multiclass: the class's index in the model."""
        return _label_codes(self.bundle, labels)


def ready_version(
    home: Path, phase: str, prob: str, version: str, *, registry: Registry | None = None
) -> ReadyVersion:
    """Load a version through the registry and fit (or read) its estimator.

    RegistryError when the version does not exist; DataError when its holdout cannot be
    used (a holdout of one class, say).
    """
    home, version = Path(home), str(version)
    spec = load_spec(home, phase, prob)
    registry = registry or Registry(home)
    table_file = problem_dir(home, phase, prob) / TRAIN_NAME
    try:
        stamp = table_file.stat().st_mtime_ns
    except OSError:
        stamp = 0
    key = (str(home.resolve()), phase, prob, version, registry.uri, stamp)
    with _lock:
        if key in _loaded:
            _loaded.move_to_end(key)
            return _loaded[key]
    params = registry.version_params(spec.name, version)
    split = _holdout_split(params)
    bundle = registry.load(spec.name, version)
    share = split["holdout"]
    table = load_training_table(
        home, spec, holdout=int(share) if share >= 1 else share, seed=int(split["seed"])
    )
    matrix, scores = _scores(bundle, table.holdout_frame)
    path = Home(home).estimate(spec.problem, version)
    estimator = _cached_estimator(path, split, len(table.holdout))
    if estimator is None:
        labels = _label_codes(bundle, table.labels.iloc[table.holdout].reset_index(drop=True))
        estimator = PerformanceEstimator(seed=int(split["seed"])).fit(scores, labels)
        write_cached(
            path,
            {
                "phase": phase,
                "prob": prob,
                "version": version,
                **split,
                "estimator": estimator.as_dict(),
            },
        )
    ready = ReadyVersion(spec, version, bundle, estimator, matrix, split)
    with _lock:
        _loaded[key] = ready
        while len(_loaded) > _KEEP:
            _loaded.popitem(last=False)
    return ready


def forget_loaded() -> None:
    """Drop every version this process holds (the cached files stay)."""
    with _lock:
        _loaded.clear()


def _holdout_split(params: dict[str, Any]) -> dict[str, float]:
    # `mara improve` logs its TrainConfig prefixed with train_; `mara train` logs it as is
    # (versions trained before rows were logged as rows_* have the holdout's size there,
    # which splits the same).
    default = TrainConfig()
    holdout = float(params.get("train_holdout", params.get("holdout", default.holdout)))
    seed = params.get("train_seed", params.get("seed", default.seed))
    return {"holdout": holdout, "seed": float(int(seed))}


def _scores(bundle: ModelBundle, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    matrix = bundle.preprocessor.transform(frame)
    return matrix, bundle.raw_predict(matrix)


def _label_codes(bundle: ModelBundle, labels: pd.Series) -> np.ndarray:
    classes = bundle.classes
    if len(classes) == 2:
        return (labels == positive_class(classes)).to_numpy().astype(int)
    index = {str(c): i for i, c in enumerate(classes)}
    codes = labels.astype(str).map(index)
    if codes.isna().any():
        unknown = sorted(set(labels[codes.isna()].astype(str)))[:5]
        raise DataError(f"labels {unknown} are not classes of the model ({classes})")
    return codes.to_numpy().astype(int)


def _cached_estimator(
    path: Path, split: dict[str, float], holdout_rows: int
) -> PerformanceEstimator | None:
    data = read_cached(path)
    if data is None or any(data.get(k) != v for k, v in split.items()):
        return None
    try:
        estimator = PerformanceEstimator.from_dict(data["estimator"])
    except (KeyError, TypeError, ValueError):
        return None
    # The table changed since (another holdout): fit again on the rows there are now.
    return estimator if estimator.holdout_rows_ == holdout_rows else None
