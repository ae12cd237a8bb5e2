"""Learning from traffic: which policy serves later traffic best, and what a swap costs.

For each generated kind, four scenarios (benchmarks/improve/scenarios.py): a new segment of
traffic (a category never seen) with a rule of its own, labels for its first part; the same
traffic without labels; a changed rule inside an existing segment, labelled; a pure covariate
shift, labelled. The champion is trained on the table, the first part of the
traffic is captured (through mara's CaptureWriter) and, where the scenario has them, labelled
(through the label ledger); then each policy is scored on the later traffic:

- keep: the champion as it is;
- naive retrain: the same recipe on the table plus every labelled row, always promoted;
- KMeans pseudo-labels: the competition's sample solution (MiniBatchKMeans on the training
  rows, rows / 10 x classes clusters, each captured row gets its cluster's majority label),
  retrained and always promoted;
- self-training: captured rows the champion is at least 90% sure of, with its labels;
- mara improve: the gate decides (traffic weight 1 and a refit once the gate passes, the
  defaults; then the weight chosen on the older traffic, weight 3 and 10, and no refit, to
  measure what each does).

Then, on one kind, the promotion under load: a real `mara serve`, four clients sending later
traffic, `mara improve` run beside it: failed requests, p99 before and during, and the time
from improve's decision to the new version answering.

    .venv/bin/python benchmarks/improve/run.py [--kinds fraud credit] [--rows 12000]
"""

from __future__ import annotations

import argparse
import logging
import platform
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
from rich.console import Console
from scenarios import Scenario, build, write_table
from sklearn.cluster import MiniBatchKMeans
from sklearn.preprocessing import StandardScaler

from mara.capture import CaptureWriter
from mara.data import KINDS
from mara.data.dirty import frame_rows
from mara.improve import GateRule, ImproveConfig, improve_problem
from mara.labels import entries_from_objects
from mara.labels.ingest import label_problem
from mara.model import ModelBundle
from mara.registry import Registry
from mara.serve.process import ServerProcess
from mara.train import TrainConfig, train_problem
from mara.train.data import load_training_table
from mara.train.metrics import headline, score
from mara.train.recipe import fit_model

HERE = Path(__file__).parent
BATCH = 500
console = Console(width=160)


def setup(home: Path, scenario: Scenario) -> ModelBundle:
    """Write the table, train the champion, capture the early traffic and maybe label it."""
    spec = scenario.spec
    write_table(home, scenario)
    train_problem(home, spec.phase, spec.prob, config=TrainConfig())
    columns = list(spec.features)
    rows = frame_rows(scenario.early, columns)
    writer = CaptureWriter(home)
    items = []
    start = time.time() - 3600
    for number, first in enumerate(range(0, len(rows), BATCH)):
        batch_id = f"early-{number}"
        part = rows[first : first + BATCH]
        writer.append(
            spec.phase,
            spec.prob,
            {
                "id": batch_id,
                "received_at": start + number,
                "model_version": "1",
                "columns": columns,
                "rows": part,
            },
        )
        items.append(
            {
                "id": batch_id,
                "labels": scenario.early[spec.target].iloc[first : first + BATCH].tolist(),
            }
        )
    writer.close()
    if scenario.labelled:
        label_problem(home, spec.phase, spec.prob, [("bench", entries_from_objects(items))])
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


def later_score(bundle: ModelBundle, scenario: Scenario) -> float:
    metrics = score(
        bundle.predict_frame(scenario.later),
        scenario.later[scenario.spec.target].tolist(),
        bundle.classes,
    )
    return metrics[headline(metrics)]


def evaluate(root: Path, scenario: Scenario, seed: int) -> list[dict]:
    home = root / f"{scenario.kind}-{scenario.name.replace(' ', '-').replace(',', '')}"
    started = time.perf_counter()
    champion = setup(home, scenario)
    spec = scenario.spec
    found = {"keep": (later_score(champion, scenario), "-")}
    labels = scenario.early[spec.target].tolist() if scenario.labelled else []
    extra = scenario.early if scenario.labelled else scenario.early.iloc[:0]
    found["naive retrain"] = (
        later_score(retrain(home, scenario, extra, labels), scenario),
        "always",
    )
    if not scenario.labelled:
        pseudo = kmeans_labels(champion, scenario, seed)
        kmeans = retrain(home, scenario, scenario.early, pseudo)
        found["KMeans pseudo-labels"] = (later_score(kmeans, scenario), "always")
        rows, own = confident_rows(champion, scenario)
        found["self-training"] = (
            later_score(retrain(home, scenario, rows, own), scenario),
            "always",
        )
    variants = {"mara improve": ImproveConfig()}
    if scenario.labelled:
        variants["mara improve, traffic weight auto"] = ImproveConfig(traffic_weight=None)
    if scenario.labelled and scenario.name.startswith("new"):
        variants |= {
            "mara improve, traffic weight 3": ImproveConfig(traffic_weight=3.0),
            "mara improve, traffic weight 10": ImproveConfig(traffic_weight=10.0),
            "mara improve, no refit": ImproveConfig(refit=False),
        }
    if scenario.name.startswith("changed"):
        # The original holdout shows the old rule: judge on recent traffic alone.
        anything = GateRule(holdout_tolerance=1.0)
        variants["mara improve, holdout tolerance 1"] = ImproveConfig(gate=anything)
        variants["mara improve, traffic weight auto, holdout tolerance 1"] = ImproveConfig(
            traffic_weight=None, gate=anything
        )
    registry = Registry(home)
    for name, config in variants.items():
        result = improve_problem(home, spec.phase, spec.prob, registry=registry, config=config)
        served = registry.load(spec.name, result.challenger) if result.promoted else champion
        found[name] = (later_score(served, scenario), "yes" if result.promoted else "no")
        if result.weight is not None:
            console.print(f"  {name}: {result.weight.reason}")
        if result.promoted:  # the next variant is judged against the same first champion
            registry.promote(spec.name, "1", by="rollback", reason="benchmark reset")
    console.print(f"{scenario.kind} / {scenario.name}: {time.perf_counter() - started:.0f} s")
    return [
        {
            "kind": scenario.kind,
            "scenario": scenario.name,
            "policy": policy,
            "metric": "auc" if len(champion.classes) == 2 else "accuracy",
            "later": value,
            "promoted": promoted,
        }
        for policy, (value, promoted) in found.items()
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
    parser.add_argument("--kinds", nargs="+", default=list(KINDS))
    parser.add_argument("--rows", type=int, default=12_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    results = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for kind in args.kinds:
            for scenario in build(kind, rows=args.rows, seed=args.seed):
                results.extend(evaluate(root, scenario, args.seed))
        first = build(args.kinds[0], rows=args.rows, seed=args.seed)[0]
        load = promotion_under_load(root, first, args.clients, args.seed)
    write(results, load, args, time.perf_counter() - started)


def write(results: list[dict], load: dict, args: argparse.Namespace, seconds: float) -> None:
    frame = pd.DataFrame(results)
    frame.to_csv(HERE / "results.csv", index=False)
    table = frame.pivot_table(
        index=["scenario", "policy"], columns="kind", values="later", sort=False
    )
    promoted = frame.pivot_table(
        index=["scenario", "policy"], columns="kind", values="promoted", aggfunc="first", sort=False
    )
    lines = [
        f"Later-traffic score (AUC, accuracy for network-multiclass) by policy; "
        f"{args.rows:,} generated rows per kind, seed {args.seed}; promoted? in brackets. "
        f"{platform.machine()}, 2 cores, Python {platform.python_version()}, "
        f"{seconds / 60:.0f} min in all.",
        "",
        "| scenario | policy | " + " | ".join(table.columns) + " |",
        "| --- | --- | " + " | ".join("---:" for _ in table.columns) + " |",
    ]
    for (scenario, policy), row in table.iterrows():
        cells = [f"{row[k]:.4f} ({promoted.loc[(scenario, policy), k]})" for k in table.columns]
        lines.append(f"| {scenario} | {policy} | " + " | ".join(cells) + " |")
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
    (HERE / "results.md").write_text("\n".join(lines) + "\n")
    console.print("\n".join(lines))


if __name__ == "__main__":
    main()
