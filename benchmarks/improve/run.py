"""Learning from traffic: which policy serves later traffic best, and what a swap costs.

For each generated kind, six scenarios (benchmarks/improve/scenarios.py): a new segment of
traffic (a category never seen) with a rule of its own, labels for its first part; the same
with only its first 500 rows labelled; the same traffic without labels; the same with its
labels shuffled; a changed rule inside an existing segment, labelled; a pure covariate
shift, labelled. The champion is trained on the table, the first part of the traffic is
captured (through mara's CaptureWriter, in requests of 25 rows) and, where the scenario has
them, labelled (through the label ledger); then each policy is scored on the later traffic:

- keep: the champion as it is;
- naive retrain: the same recipe on the table plus every labelled row, always promoted;
- KMeans pseudo-labels: the competition's sample solution (MiniBatchKMeans on the training
  rows, rows / 10 x classes clusters, each captured row gets its cluster's majority label),
  retrained and always promoted;
- self-training: captured rows the champion is at least 90% sure of, with its labels;
- mara improve: the gate decides at its defaults (the traffic weight chosen on the traffic,
  forward-chained evidence on every labelled row, the holdout guard unless the champion's
  own recent score shows the holdout stale).

Then, on one kind, the promotion under load: a real `mara serve`, four clients sending later
traffic, `mara improve` run beside it: failed requests, p99 before and during, and the time
from improve's decision to the new version answering.

    .venv/bin/python benchmarks/improve/run.py [--kinds fraud credit] [--rows 12000]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
from rich.console import Console
from scenarios import (
    Scenario,
    build,
    capture,
    label,
    later_score,
    paired_se,
    scenario_arguments,
    write_table,
)
from sklearn.cluster import MiniBatchKMeans
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/common.py
from common import machine  # noqa: E402

from mara.data import KINDS  # noqa: E402
from mara.data.dirty import frame_rows  # noqa: E402
from mara.improve import ImproveConfig, improve_problem  # noqa: E402
from mara.model import ModelBundle  # noqa: E402
from mara.registry import Registry  # noqa: E402
from mara.serve.process import ServerProcess  # noqa: E402
from mara.train import TrainConfig, train_problem  # noqa: E402
from mara.train.data import load_training_table  # noqa: E402
from mara.train.recipe import fit_model  # noqa: E402

HERE = Path(__file__).parent
BATCH = 500  # rows per request sent under load
# Rows per captured request: the gate's bootstrap draws requests, so the labelled traffic
# must hold enough of them (500 labelled rows are 20 requests).
CAPTURED_BATCH = 25
console = Console(width=160)


def setup(home: Path, scenario: Scenario) -> ModelBundle:
    """Write the table, train the champion, capture the early traffic and maybe label it."""
    spec = scenario.spec
    write_table(home, scenario)
    train_problem(home, spec.phase, spec.prob, config=TrainConfig())
    capture(home, scenario, CAPTURED_BATCH)
    label(home, scenario, CAPTURED_BATCH)
    return Registry(home).load(spec.name)


def retrain(home: Path, scenario: Scenario, extra: pd.DataFrame, labels: list) -> ModelBundle:
    """The mara recipe on the table's training rows plus `extra` rows, weight 1."""
    spec = scenario.spec
    table = load_training_table(home, spec, holdout=0.2, seed=0)
    features = list(spec.features)
    frame = pd.concat([table.train_frame[features], extra[features]], ignore_index=True)
    y = pd.concat([table.labels.iloc[table.train], pd.Series(labels)], ignore_index=True)
    return fit_model(spec, frame, y, table.classes, config=TrainConfig())


def kmeans_labels(champion: ModelBundle, scenario: Scenario, seed: int) -> list:
    """The sample solution: clusters of the training rows vote on each captured row's label."""
    pre = champion.preprocessor
    table = scenario.table
    x = np.nan_to_num(pre.transform(table), nan=-1.0)
    scaler = StandardScaler().fit(x)
    classes = table[scenario.spec.target].unique()
    clusters = max(2, len(x) // 10 * len(classes))
    model = MiniBatchKMeans(n_clusters=clusters, random_state=seed, n_init=1, batch_size=4096)
    assigned = model.fit_predict(scaler.transform(x))
    majority = (
        pd.DataFrame({"c": assigned, "y": table[scenario.spec.target].to_numpy()})
        .groupby("c")["y"]
        .agg(lambda s: s.value_counts().index[0])
    )
    fallback = table[scenario.spec.target].value_counts().index[0]
    early = np.nan_to_num(pre.transform(scenario.early), nan=-1.0)
    votes = model.predict(scaler.transform(early))
    return [majority.get(c, fallback) for c in votes]


def confident_rows(champion: ModelBundle, scenario: Scenario) -> tuple[pd.DataFrame, list]:
    """Captured rows the champion is at least 90% sure of, with its own labels."""
    raw = champion.raw_predict(champion.preprocessor.transform(scenario.early))
    if champion.is_binary:
        sure = (raw >= 0.9) | (raw <= 0.1)
        positive = 1 if 1 in champion.classes else sorted(champion.classes)[-1]
        negative = next(c for c in champion.classes if c != positive)
        labels = np.where(raw >= 0.5, positive, negative)
    else:
        sure = raw.max(axis=1) >= 0.9
        labels = np.asarray(champion.classes, dtype=object)[raw.argmax(axis=1)]
    return scenario.early[sure], labels[sure].tolist()


def evaluate(root: Path, scenario: Scenario, seed: int) -> list[dict]:
    home = root / f"{scenario.kind}-{scenario.name.replace(' ', '-').replace(',', '')}"
    started = time.perf_counter()
    champion = setup(home, scenario)
    spec = scenario.spec
    classes = champion.classes
    predicted = {"keep": champion.predict_frame(scenario.later)}
    promoted = {"keep": "-"}
    labels = scenario.labels()
    extra = scenario.early.iloc[: len(labels)]
    predicted["naive retrain"] = retrain(home, scenario, extra, labels).predict_frame(
        scenario.later
    )
    promoted["naive retrain"] = "always"
    if not scenario.labelled:
        pseudo = kmeans_labels(champion, scenario, seed)
        kmeans = retrain(home, scenario, scenario.early, pseudo)
        predicted["KMeans pseudo-labels"] = kmeans.predict_frame(scenario.later)
        rows, own = confident_rows(champion, scenario)
        selftrained = retrain(home, scenario, rows, own)
        predicted["self-training"] = selftrained.predict_frame(scenario.later)
        promoted["KMeans pseudo-labels"] = promoted["self-training"] = "always"
    registry = Registry(home)
    t0 = time.perf_counter()
    result = improve_problem(home, spec.phase, spec.prob, registry=registry, config=ImproveConfig())
    improve_s = time.perf_counter() - t0
    served = registry.load(spec.name, result.challenger) if result.promoted else champion
    predicted["mara improve"] = served.predict_frame(scenario.later)
    promoted["mara improve"] = "yes" if result.promoted else "no"
    gain, shift, weight = result.recent, result.shift, result.weight
    evidence = {
        "labelled_rows": len(labels),
        "improve_s": improve_s,
        # The traffic weight improve chose, and the seconds of improve_s its choice took.
        "weight": None if weight is None else weight.weight,
        "weight_s": None if weight is None else weight.seconds,
        "rule": result.rule or result.reason.split(":")[-1].strip(),
        "gain": None if gain is None else gain.difference,
        "gain_low": None if gain is None else gain.low,
        "gain_high": None if gain is None else gain.high,
        "champion_holdout": None if shift is None else shift.holdout,
        "champion_recent": None if shift is None else shift.recent,
        "shift_low": None if shift is None else shift.low,
        "shift_high": None if shift is None else shift.high,
    }
    console.print(f"  {result.summary()}")
    console.print(f"{scenario.kind} / {scenario.name}: {time.perf_counter() - started:.0f} s")
    return [
        {
            "kind": scenario.kind,
            "scenario": scenario.name,
            "policy": policy,
            "metric": "auc" if len(champion.classes) == 2 else "accuracy",
            "later": later_score(values, scenario, classes),
            # Paired standard errors of this policy's score less keep's and naive's.
            "se_vs_keep": paired_se(values, predicted["keep"], scenario, classes),
            "se_vs_naive": paired_se(values, predicted["naive retrain"], scenario, classes),
            "promoted": promoted[policy],
            **(evidence if policy == "mara improve" else {}),
        }
        for policy, values in predicted.items()
    ]


def promotion_under_load(root: Path, scenario: Scenario, clients: int, seed: int) -> dict:
    """Serve, load with `clients`, run improve beside it; failures, p99s, time to answer."""
    home = root / "promotion"
    setup(home, scenario)
    spec = scenario.spec
    columns = list(spec.features)
    bodies = [
        {
            "id": f"later-{i}",
            "columns": columns,
            "rows": frame_rows(scenario.later.iloc[i : i + BATCH], columns),
        }
        for i in range(0, len(scenario.later), BATCH)
    ]
    samples: list[tuple[float, float, bool]] = []
    stop = threading.Event()

    def client(offset: int) -> None:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            for n in range(100_000):
                if stop.is_set():
                    return
                t0 = time.perf_counter()
                try:
                    ok = (
                        http.post(
                            f"/{spec.phase}/{spec.prob}/predict",
                            json=bodies[(offset + n) % len(bodies)],
                        ).status_code
                        == 200
                    )
                except httpx.HTTPError:
                    ok = False
                samples.append((t0, time.perf_counter() - t0, ok))

    with ServerProcess(home, extra_args=("--follow", "1")) as server:
        threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        for thread in threads:
            thread.start()
        time.sleep(10)
        improve_started = time.perf_counter()
        result = improve_problem(home, spec.phase, spec.prob)
        decided = time.perf_counter()
        answered = None
        if result.promoted:
            with httpx.Client(base_url=server.url, timeout=10) as http:
                for _ in range(1200):
                    models = http.get("/health").json()["models"]
                    if models[f"{spec.phase}/{spec.prob}"]["version"] == result.challenger:
                        answered = time.perf_counter()
                        break
                    time.sleep(0.05)
        time.sleep(5)
        stop.set()
        for thread in threads:
            thread.join()
    before = [s for s in samples if s[0] < improve_started]
    during = [s for s in samples if s[0] >= improve_started]
    return {
        "promoted": result.promoted,
        "requests": len(samples),
        "failed": sum(not ok for _, _, ok in samples),
        "p99_before_ms": 1000 * float(np.quantile([d for _, d, _ in before], 0.99)),
        "p99_during_ms": 1000 * float(np.quantile([d for _, d, _ in during], 0.99)),
        "improve_s": decided - improve_started,
        "decision_to_answer_s": None if answered is None else answered - decided,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    scenario_arguments(
        parser,
        kinds=list(KINDS),
        out=HERE,
        merge_help="Run nothing: merge the results.csv (and load.json) of these folders, from "
        "runs of parts side by side, into --out's results files.",
    )
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--skip-load", action="store_true", help="No promotion under load.")
    args = parser.parse_args()
    args.load_start = os.getloadavg()[0]
    if args.merge:
        merge(args)
        return
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    results = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for kind in args.kinds:
            for scenario in build(kind, rows=args.rows, seed=args.seed):
                if args.scenarios and not scenario.name.startswith(tuple(args.scenarios)):
                    continue
                results.extend(evaluate(root, scenario, args.seed))
        load = None
        if not args.skip_load:
            first = build(args.kinds[0], rows=args.rows, seed=args.seed)[0]
            load = promotion_under_load(root, first, args.clients, args.seed)
    write(results, load, args, time.perf_counter() - started)


def evidence_lines(frame: pd.DataFrame) -> list[str]:
    """What mara improve saw: the champion's holdout against its recent score, the
    forward-chained gain, both with 95% intervals over requests, and the rule applied."""
    rows = frame[(frame["policy"] == "mara improve") & frame["labelled_rows"].gt(0)]
    lines = [
        "mara improve's evidence (champion: holdout score, then its score on the scored "
        "labelled traffic and the difference [95% interval]; the forward-chained gain of the "
        "challenger's recipe over the champion on those rows [95% interval, requests "
        "resampled]; the traffic weight chosen, and the seconds of improve s its choice took):",
        "",
        "| kind | scenario | labelled | champion holdout | champion recent | shift | "
        "chained gain | rule | weight | promoted | improve s | weight s |",
        "| --- | --- | ---: | ---: | ---: | --- | --- | --- | ---: | --- | ---: | ---: |",
    ]
    for _, r in rows.iterrows():
        chosen = "-" if pd.isna(r.get("weight")) else f"{r['weight']:g}"
        took = "-" if pd.isna(r.get("weight_s")) else f"{r['weight_s']:.0f}"
        if pd.isna(r["gain"]):
            lines.append(
                f"| {r['kind']} | {r['scenario']} | {r['labelled_rows']:.0f} | - | - | - | - | "
                f"{r['rule']} | {chosen} | {r['promoted']} | {r['improve_s']:.0f} | {took} |"
            )
            continue
        lines.append(
            f"| {r['kind']} | {r['scenario']} | {r['labelled_rows']:.0f} | "
            f"{r['champion_holdout']:.4f} | {r['champion_recent']:.4f} | "
            f"{r['champion_recent'] - r['champion_holdout']:+.4f} "
            f"[{r['shift_low']:+.4f}, {r['shift_high']:+.4f}] | {r['gain']:+.4f} "
            f"[{r['gain_low']:+.4f}, {r['gain_high']:+.4f}] | {r['rule']} | {chosen} | "
            f"{r['promoted']} | {r['improve_s']:.0f} | {took} |"
        )
    return lines


def bar_lines(frame: pd.DataFrame) -> list[str]:
    """The issue's bar, case by case: where the naive retrain beats keeping by more than
    0.02, improve promotes and serves at least naive - 0.005; it never serves less than
    keep - 0.005; shuffled or absent labels never promote."""
    wide = frame.pivot_table(index=["kind", "scenario"], columns="policy", values="later")
    mine = frame[frame["policy"] == "mara improve"].set_index(["kind", "scenario"])
    done = mine["promoted"]
    naive_se = frame[frame["policy"] == "naive retrain"].set_index(["kind", "scenario"])[
        "se_vs_keep"
    ]
    lines = [
        "The bar (naive - keep > 0.02: promote and serve >= naive - 0.005; always serve >= "
        "keep - 0.005; shuffled or no labels: never promote). Each difference with its paired "
        "standard error (the same bootstrap resamples of the later rows for both policies):",
        "",
        "| kind | scenario | naive - keep | improve - naive | improve - keep | promoted | met |",
        "| --- | --- | ---: | ---: | ---: | --- | --- |",
    ]
    met_all = True
    for (kind, scenario), r in wide.iterrows():
        keep, naive, mara = r["keep"], r["naive retrain"], r["mara improve"]
        promoted = done[(kind, scenario)] == "yes"
        met = mara >= keep - 0.005
        if naive - keep > 0.02 and "shuffled" not in scenario:
            met = met and promoted and mara >= naive - 0.005
        if "shuffled" in scenario or "no labels" in scenario:
            met = met and not promoted
        met_all &= met
        lines.append(
            f"| {kind} | {scenario} | {naive - keep:+.4f} ({naive_se[(kind, scenario)]:.4f}) | "
            f"{mara - naive:+.4f} ({mine.loc[(kind, scenario), 'se_vs_naive']:.4f}) | "
            f"{mara - keep:+.4f} ({mine.loc[(kind, scenario), 'se_vs_keep']:.4f}) | "
            f"{done[(kind, scenario)]} | {'yes' if met else 'NO'} |"
        )
    lines += ["", f"Bar met in every case: {'yes' if met_all else 'no'}."]
    return lines


def merge(args: argparse.Namespace) -> None:
    """One results file from parts run side by side (each with its own --out)."""
    frames = [pd.read_csv(folder / "results.csv") for folder in args.merge]
    loads = [folder / "load.json" for folder in args.merge if (folder / "load.json").exists()]
    load = json.loads(loads[0].read_text()) if loads else None
    if load is not None:
        args.kinds, args.clients = [load.pop("kind")], load.pop("clients")
    meta = [json.loads((f / "run.json").read_text()) for f in args.merge]
    args.load_start = max(m["load_start"] for m in meta)
    args.parts = len(meta)
    seconds = max(m["seconds"] for m in meta)
    write(pd.concat(frames, ignore_index=True).to_dict("records"), load, args, seconds)


def write(results: list[dict], load: dict | None, args: argparse.Namespace, seconds: float) -> None:
    frame = pd.DataFrame(results)
    args.out.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.out / "results.csv", index=False)
    run = {"load_start": args.load_start, "seconds": seconds}
    (args.out / "run.json").write_text(json.dumps(run))
    if load is not None:
        kept = {**load, "kind": args.kinds[0], "clients": args.clients}
        (args.out / "load.json").write_text(json.dumps(kept))
    table = frame.pivot_table(
        index=["scenario", "policy"], columns="kind", values="later", sort=False
    )
    promoted = frame.pivot_table(
        index=["scenario", "policy"], columns="kind", values="promoted", aggfunc="first", sort=False
    )
    lines = [
        f"Later-traffic score (AUC, accuracy for network-multiclass) by policy; "
        f"{args.rows:,} generated rows per kind, seed {args.seed}; promoted? in brackets. "
        f"{machine()}; load average {args.load_start:.1f} at the start (a shared machine); "
        f"{seconds / 60:.0f} min in all"
        + (f" ({args.parts} parts run side by side)." if getattr(args, "parts", 0) > 1 else "."),
        "",
        "| scenario | policy | " + " | ".join(table.columns) + " |",
        "| --- | --- | " + " | ".join("---:" for _ in table.columns) + " |",
    ]
    for (scenario, policy), row in table.iterrows():
        cells = [
            "not run"
            if pd.isna(row[k])
            else f"{row[k]:.4f} ({promoted.loc[(scenario, policy), k]})"
            for k in table.columns
        ]
        lines.append(f"| {scenario} | {policy} | " + " | ".join(cells) + " |")
    lines += ["", *evidence_lines(frame), "", *bar_lines(frame)]
    if load is None:
        lines += ["", "Promotion under load: not run (--skip-load)."]
        (args.out / "results.md").write_text("\n".join(lines) + "\n")
        console.print("\n".join(lines))
        return
    lines += [
        "",
        f"Promotion under load ({args.kinds[0]}, new segment, labelled; {args.clients} clients "
        f"sending {BATCH}-row batches to one `mara serve` worker while `mara improve` ran "
        "beside it in the benchmark process):",
        "",
        "| promoted | requests | failed | p99 before ms | p99 during ms | improve s | "
        "decision to answer s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| {load['promoted']} | {load['requests']} | {load['failed']} | "
        f"{load['p99_before_ms']:.1f} | {load['p99_during_ms']:.1f} | {load['improve_s']:.1f} | "
        + ("-" if load["decision_to_answer_s"] is None else f"{load['decision_to_answer_s']:.1f}")
        + " |",
    ]
    (args.out / "results.md").write_text("\n".join(lines) + "\n")
    console.print("\n".join(lines))


if __name__ == "__main__":
    main()
