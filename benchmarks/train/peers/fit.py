"""One peer (FLAML or AutoGluon) fitted on one split that benchmarks/train/run.py wrote.

Runs in the peers' own environment (.venv-peers: AutoGluon pins pandas below mara's), so it
imports nothing of mara's. The split's directory holds `train.parquet` (the features as
mara's Preprocessor reads them: numbers as floats, categories as their codes in text,
missing cells empty; the target `__y__` as integer codes), `clean.parquet` and
`dirty.parquet` (the test rows as sent and dirtied, read by the same Preprocessor), and
`meta.json` (the metric, the seed). Writes `<peer>.npz` (each test set's class
probabilities, one column per code) and `<peer>.json` (training seconds, median
milliseconds to predict 1,000 rows, what the peer chose).

    .venv-peers/bin/python benchmarks/train/peers/fit.py DIR flaml|autogluon [--seconds 30]
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

TARGET = "__y__"


def read(path: Path) -> pd.DataFrame:
    """A split's frame with its category columns as text (object), as a user hands them.

    A missing cell is NaN, not pandas' NA: AutoGluon 1.x fails on a two-level column that
    holds NA (`boolean value of NA is ambiguous`, in its type inference; credit, seed 1).
    """
    frame = pd.read_parquet(path)
    for column in frame.columns:
        if column != TARGET and not pd.api.types.is_float_dtype(frame[column]):
            values = frame[column].astype(object)
            frame[column] = values.where(values.notna(), np.nan)
    return frame


def fit_flaml(train: pd.DataFrame, meta: dict, seconds: float, work: Path):
    from flaml import AutoML

    automl = AutoML()
    automl.fit(
        train.drop(columns=TARGET),
        train[TARGET],
        task="classification",
        metric="roc_auc" if meta["metric"] == "auc" else "accuracy",
        time_budget=seconds,
        seed=meta["seed"],
        verbose=0,
        log_file_name=str(work / "flaml.log"),
    )

    def proba(frame: pd.DataFrame) -> np.ndarray:
        return automl.predict_proba(frame)

    return proba, f"{automl.best_estimator}"


def fit_autogluon(train: pd.DataFrame, meta: dict, seconds: float, work: Path):
    from autogluon.tabular import TabularPredictor

    predictor = TabularPredictor(
        label=TARGET,
        eval_metric="roc_auc" if meta["metric"] == "auc" else "accuracy",
        problem_type="binary" if meta["classes"] == 2 else "multiclass",
        path=str(work / "autogluon"),
        verbosity=0,
    )
    predictor.fit(train, presets="medium_quality", time_limit=seconds)

    def proba(frame: pd.DataFrame) -> np.ndarray:
        out = predictor.predict_proba(frame)
        return out[list(range(meta["classes"]))].to_numpy()

    return proba, f"{predictor.model_best}"


FITS = {"flaml": fit_flaml, "autogluon": fit_autogluon}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("split", type=Path)
    parser.add_argument("peer", choices=sorted(FITS))
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    meta = json.loads((args.split / "meta.json").read_text())
    train = read(args.split / "train.parquet")
    tests = {name: read(args.split / f"{name}.parquet") for name in ("clean", "dirty")}
    with tempfile.TemporaryDirectory() as work:
        started = time.perf_counter()
        proba, chose = FITS[args.peer](train, meta, args.seconds, Path(work))
        train_s = time.perf_counter() - started
        predictions = {name: np.asarray(proba(frame), dtype=float) for name, frame in tests.items()}
        batch = tests["clean"].sample(1000, replace=len(tests["clean"]) < 1000, random_state=0)
        times = []
        for _ in range(10):
            started = time.perf_counter()
            proba(batch)
            times.append(time.perf_counter() - started)
    np.savez(args.split / f"{args.peer}.npz", **predictions)
    figures = {"train_s": train_s, "predict_ms_1000": 1000 * statistics.median(times)}
    (args.split / f"{args.peer}.json").write_text(json.dumps(figures | {"chose": chose}))


if __name__ == "__main__":
    main()
