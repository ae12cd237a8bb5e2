"""From the labels arriving to the promotion: `mara autopilot` at its defaults, and no other
command than the labels.

For each scenario of benchmarks/improve (a new segment labelled, its first 500 rows only, no
labels, shuffled labels, a changed rule, a covariate shift): the champion is trained on the
table and the early traffic is captured (requests of 25 rows); `mara autopilot` starts as a
process with every default (a look every 30 s, a cooldown of 600 s); then the scenario's
labels arrive through the ledger, as `mara label` writes them. The clock runs from the labels
being written to the champion alias moving (the promotion), and to the autopilot's first
decision in the audit log (promote, or keep; written once the new forest is compiled); a keep
is final for `HORIZON_S`, since the cooldown (600 s) lets no improve run again before it. A
scenario without labels is watched for two looks: improve cannot run below its floor.

Each scenario also scores, on the later traffic, the champion that serves at the end against
keeping the first one and against the naive retrain (the recipe on the table plus every
labelled row, always promoted), with paired standard errors over the later rows.

    .venv/bin/python benchmarks/autopilot/arrival.py [--kinds fraud network-multiclass]
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from rich.console import Console

sys.path.insert(0, str(Path(__file__).parent.parent / "improve"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/common.py
from common import machine  # noqa: E402
from scenarios import (  # noqa: E402
    Scenario,
    build,
    capture,
    label,
    later_score,
    paired_se,
    scenario_arguments,
    write_table,
)

from mara.autopilot import AuditLog, AutopilotConfig  # noqa: E402
from mara.registry import Registry  # noqa: E402
from mara.train import TrainConfig, train_problem  # noqa: E402
from mara.train.data import load_training_table  # noqa: E402
from mara.train.recipe import fit_model  # noqa: E402

HERE = Path(__file__).parent
CAPTURED_BATCH = 25
# The bar: a promotion within 5 minutes of the labels arriving.
HORIZON_S = 300.0
console = Console(width=160)


def naive(home: Path, scenario: Scenario) -> list:
    """The naive retrain's predictions on the later traffic."""
    spec = scenario.spec
    table = load_training_table(home, spec, holdout=0.2, seed=0)
    labels = scenario.labels()
    if not labels:
        return []
    features = list(spec.features)
    extra = scenario.early.iloc[: len(labels)]
    frame = pd.concat([table.train_frame[features], extra[features]], ignore_index=True)
    y = pd.concat([table.labels.iloc[table.train], pd.Series(labels)], ignore_index=True)
    bundle = fit_model(spec, frame, y, table.classes, config=TrainConfig())
    return bundle.predict_frame(scenario.later)


def watch(home: Path, scenario: Scenario) -> dict:
    """Start `mara autopilot`, let the labels arrive, wait for its first decision."""
    spec = scenario.spec
    audit = AuditLog(home, Registry(home))
    log = (home / "autopilot.log").open("wb")
    pilot = subprocess.Popen(
        [sys.executable, "-m", "mara", "--home", str(home), "autopilot"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        arrived = time.time()
        labelled = label(home, scenario, CAPTURED_BATCH)
        # Without labels no rule can fire (improve's floor): two looks are watched.
        deadline = arrived + (HORIZON_S if labelled else 2 * AutopilotConfig().interval_s + 5)
        decision = None
        while decision is None and time.time() < deadline and pilot.poll() is None:
            decided = [
                e for e in audit.read(spec.phase, spec.prob) if e["action"] in ("promote", "keep")
            ]
            decision = decided[0] if decided else None
            time.sleep(0.5)
        if pilot.poll() is not None:
            raise RuntimeError(f"mara autopilot stopped: {(home / 'autopilot.log').read_text()}")
    finally:
        pilot.terminate()
        pilot.wait(30)
        log.close()
    # The champion alias moves inside improve, before it compiles the new forest and the
    # audit line is written: the promotion's time is the move's.
    moves = [
        m
        for m in Registry(home).alias_history(spec.name)
        if m.alias == "champion" and m.by == "improve"
    ]
    return {
        "labelled_rows": labelled,
        "decision": "-" if decision is None else decision["action"],
        "labels_to_promotion_s": moves[0].at - arrived if moves else None,
        "labels_to_decision_s": None if decision is None else decision["at"] - arrived,
        "rule": None if decision is None else decision["evidence"].get("rule"),
        "judged_gain": None if decision is None else decision["evidence"].get("judged_gain"),
        "judged_gain_low": (
            None if decision is None else decision["evidence"].get("judged_gain_low")
        ),
    }


def run(root: Path, scenario: Scenario) -> dict:
    spec = scenario.spec
    home = root / f"{scenario.kind}-{scenario.name.replace(' ', '-').replace(',', '')}"
    write_table(home, scenario)
    train_problem(home, spec.phase, spec.prob, config=TrainConfig())
    capture(home, scenario, CAPTURED_BATCH)
    registry = Registry(home)
    first = registry.load(spec.name)
    classes = first.classes
    kept = first.predict_frame(scenario.later)
    refit = naive(home, scenario) or kept
    found = watch(home, scenario)
    served = registry.load(spec.name).predict_frame(scenario.later)
    keep, naive_score = later_score(kept, scenario, classes), later_score(refit, scenario, classes)
    mine = later_score(served, scenario, classes)
    return {
        "kind": scenario.kind,
        "scenario": scenario.name,
        **found,
        "keep": keep,
        "naive": naive_score,
        "autopilot": mine,
        "naive_minus_keep": naive_score - keep,
        "naive_minus_keep_se": paired_se(refit, kept, scenario, classes),
        "autopilot_minus_naive": mine - naive_score,
        "autopilot_minus_naive_se": paired_se(served, refit, scenario, classes),
        "autopilot_minus_keep": mine - keep,
        "autopilot_minus_keep_se": paired_se(served, kept, scenario, classes),
    }


def met(r: pd.Series) -> bool:
    """The issue's bar, for one scenario."""
    promoted = r["decision"] == "promote"
    ok = r["autopilot"] >= r["keep"] - 0.005
    if "shuffled" in r["scenario"] or "no labels" in r["scenario"]:
        return ok and not promoted
    if r["naive_minus_keep"] > 0.02:
        ok = ok and promoted and r["autopilot"] >= r["naive"] - 0.005
        ok = ok and r["labels_to_promotion_s"] <= HORIZON_S
    return ok


def write(frame: pd.DataFrame, args: argparse.Namespace, seconds: float) -> None:
    frame["met"] = frame.apply(met, axis=1)
    frame.to_csv(args.out / "results-arrival.csv", index=False)
    lines = [
        "# From the labels arriving to the promotion",
        "",
        f"`mara autopilot` at its defaults; the labels of each benchmarks/improve scenario "
        f"arrive at once through the ledger; {args.rows:,} generated rows per kind, seed "
        f"{args.seed}. {machine()}; load average {args.load_start:.1f} at the start (a shared "
        f"machine); {seconds / 60:.0f} min in all"
        + (f" ({args.parts} parts run side by side)" if getattr(args, "parts", 0) > 1 else "")
        + ". Later-traffic score "
        "(AUC, accuracy for network-multiclass); differences with their paired standard "
        "errors over the later rows.",
        "",
        "| kind | scenario | labelled | decision | labels to promotion s | labels to decision "
        "s | rule | keep | naive | autopilot | naive - keep | autopilot - naive | autopilot - "
        "keep | met |",
        "| --- | --- | ---: | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: "
        "| --- |",
    ]
    for _, r in frame.iterrows():
        moved, took = (
            "-" if pd.isna(r[k]) else f"{r[k]:.0f}"
            for k in ("labels_to_promotion_s", "labels_to_decision_s")
        )
        rule = "-" if pd.isna(r["rule"]) else r["rule"]
        lines.append(
            f"| {r['kind']} | {r['scenario']} | {r['labelled_rows']} | {r['decision']} | "
            f"{moved} | {took} | {rule} | {r['keep']:.4f} | {r['naive']:.4f} | "
            f"{r['autopilot']:.4f} | "
            f"{r['naive_minus_keep']:+.4f} ({r['naive_minus_keep_se']:.4f}) | "
            f"{r['autopilot_minus_naive']:+.4f} ({r['autopilot_minus_naive_se']:.4f}) | "
            f"{r['autopilot_minus_keep']:+.4f} ({r['autopilot_minus_keep_se']:.4f}) | "
            f"{'yes' if r['met'] else 'NO'} |"
        )
    promoted = frame["labels_to_promotion_s"].dropna()
    lines += [
        "",
        f"Bar met in every case: {'yes' if frame['met'].all() else 'no'}. Labels to "
        + (
            f"promotion: at most {promoted.max():.0f} s ({HORIZON_S:.0f} s allowed)."
            if len(promoted)
            else "promotion: nothing promoted."
        ),
    ]
    (args.out / "results-arrival.md").write_text("\n".join(lines) + "\n")
    console.print(lines[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    scenario_arguments(
        parser,
        kinds=["fraud", "network-multiclass"],
        out=HERE,
        merge_help="Run nothing: merge these results-arrival.csv files (parts run side by side).",
    )
    args = parser.parse_args()
    args.load_start = os.getloadavg()[0]
    if args.merge:
        frame = pd.concat([pd.read_csv(path) for path in args.merge], ignore_index=True)
        args.load_start = float(frame["load_start"].max())
        args.parts = len(args.merge)
        write(frame.drop(columns="met"), args, float(frame["part_seconds"].max()))
        return
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    started = time.perf_counter()
    results = []
    with tempfile.TemporaryDirectory(prefix="mara-arrival-") as tmp:
        for kind in args.kinds:
            for scenario in build(kind, rows=args.rows, seed=args.seed):
                if args.scenarios and not scenario.name.startswith(tuple(args.scenarios)):
                    continue
                t0 = time.perf_counter()
                results.append(run(Path(tmp), scenario))
                console.log(f"{kind} / {scenario.name}: {time.perf_counter() - t0:.0f} s")
                # Written after every scenario: a long run shows its figures as it goes.
                seconds = time.perf_counter() - started
                results[-1] |= {"part_seconds": seconds, "load_start": args.load_start}
                write(pd.DataFrame(results), args, seconds)


if __name__ == "__main__":
    main()
