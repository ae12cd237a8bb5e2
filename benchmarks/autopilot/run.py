"""The autopilot on a replayed stream, against never retraining and a fixed retrain schedule.

For each generated kind and scenario, one traffic stream is replayed batch by batch through a
real `mara serve` (loopback, following the alias every second, shadow scoring on); each
batch's true labels are POSTed to the server `--lag` batches later, as late labels arrive.
Three policies serve the same stream, each on its own home with the same first champion:

- never: the first champion answers everything;
- schedule: every `--every` batches, the recipe is refitted on the table plus every labelled
  row so far and promoted unconditionally (a cron job with no gate);
- autopilot: `mara.autopilot.Autopilot.step()` after every batch, with its defaults except
  the label thresholds scaled to the stream (`autopilot_config`): a challenger is promoted
  as soon as the gate passes;
- autopilot --shadow: the same, but a challenger that passes the gate is shadowed by the
  server and promoted on its labelled shadow rows.

Scenarios come from benchmarks/improve/scenarios.py (a new segment with a rule of its own, a
changed rule inside a segment, a pure covariate shift), plus "bad push": the stream has no
change, but at a third of the way a version fitted on shuffled labels is promoted by hand, in
every policy. The score is each policy's served answers against the true labels (AUC, or
accuracy), over the whole stream and over its second half. Decisions (retrain, promote,
rollback) are listed by batch.

    .venv/bin/python benchmarks/autopilot/run.py [--kinds fraud credit] [--rows 12000]

(the docs' figures: the defaults, fraud at 12,000 rows.)
"""

from __future__ import annotations

import argparse
import logging
import platform
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
from rich.console import Console
from rich.progress import Progress

sys.path.insert(0, str(Path(__file__).parent.parent / "improve"))
from scenarios import Scenario, build, write_table  # noqa: E402

from mara.autopilot import Autopilot, AutopilotConfig  # noqa: E402
from mara.data.dirty import frame_rows  # noqa: E402
from mara.improve import ImproveConfig  # noqa: E402
from mara.labels import labelled_traffic  # noqa: E402
from mara.model import ModelBundle  # noqa: E402
from mara.registry import CHALLENGER, Registry  # noqa: E402
from mara.serve.process import ServerProcess  # noqa: E402
from mara.train import TrainConfig, train_problem  # noqa: E402
from mara.train.data import load_training_table  # noqa: E402
from mara.train.metrics import headline, score  # noqa: E402
from mara.train.recipe import fit_model  # noqa: E402

HERE = Path(__file__).parent
POLICIES = ("never", "schedule", "autopilot", "autopilot --shadow")
console = Console(width=160)


@dataclass
class Replay:
    """One policy's run over one stream: what it served, and what it decided when."""

    policy: str
    served: list = field(default_factory=list)
    decisions: list[tuple[int, str]] = field(default_factory=list)


def setup(home: Path, scenario: Scenario) -> None:
    """The problem's table and its first champion."""
    spec = scenario.spec
    write_table(home, scenario)
    train_problem(home, spec.phase, spec.prob, config=TrainConfig())


def register(home: Path, scenario: Scenario, bundle: ModelBundle, by: str, reason: str) -> str:
    """Log a fitted bundle as a new version and make it the champion."""
    registry = Registry(home)
    name = scenario.spec.name
    with registry.run(name, f"{by} {name}"):
        registry.log(
            tags={"phase": scenario.spec.phase, "prob": scenario.spec.prob, "mara.kind": by}
        )
        version = registry.log_bundle(bundle).version
    registry.promote(name, version, by=by, reason=reason)
    return version


def refit(home: Path, scenario: Scenario, *, shuffle: bool = False) -> ModelBundle:
    """The recipe on the table's training rows plus every labelled row captured so far."""
    spec = scenario.spec
    table = load_training_table(home, spec, holdout=0.2, seed=0)
    traffic, _ = labelled_traffic(home, spec.phase, spec.prob, spec.features)
    features = list(spec.features)
    frame = pd.concat([table.train_frame[features], traffic[features]], ignore_index=True)
    labels = pd.concat([table.labels.iloc[table.train], traffic["label"]], ignore_index=True)
    if shuffle:
        labels = pd.Series(np.random.default_rng(0).permutation(labels.to_numpy()))
    return fit_model(spec, frame, labels, table.classes, config=TrainConfig())


def wait_for(
    client: httpx.Client, problem: str, field: str, version: str | None, timeout_s: float = 60
) -> None:
    """Until /health shows `version` as the problem's `field` (version, shadowing)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if client.get("/health").json()["models"][problem][field] == version:
            return
        time.sleep(0.2)
    raise RuntimeError(f"the server did not show {problem} {field} v{version}")


def replay(
    home: Path,
    scenario: Scenario,
    stream: pd.DataFrame,
    policy: str,
    args: argparse.Namespace,
    *,
    bad_push_at: int | None,
) -> Replay:
    """Serve `stream` batch by batch under `policy`; labels arrive `args.lag` batches late."""
    spec = scenario.spec
    problem = f"{spec.phase}/{spec.prob}"
    columns = list(spec.features)
    rows = frame_rows(stream, columns)
    truth = stream[spec.target].tolist()
    batches = range(0, len(rows), args.batch)
    result = Replay(policy)
    registry = Registry(home)
    pilot = None
    if policy.startswith("autopilot"):
        pilot = Autopilot(home, autopilot_config(args, shadow=policy.endswith("--shadow")))
    serving = ServerProcess(home, extra_args=("--follow", "1", "--no-compile"), start_timeout_s=600)
    with serving as server, httpx.Client(base_url=server.url, timeout=120) as client:
        for number, start in enumerate(batches):
            part = rows[start : start + args.batch]
            body = {"id": f"b{number}", "columns": columns, "rows": part}
            answer = client.post(f"/{problem}/predict", json=body)
            answer.raise_for_status()
            result.served += answer.json()["predictions"]
            late = number - args.lag
            if late >= 0:
                first = late * args.batch
                labels = {"id": f"b{late}", "labels": truth[first : first + args.batch]}
                client.post(f"/{problem}/labels", json=labels).raise_for_status()
            before = registry.champion_version(spec.name)
            if number == bad_push_at:
                register(
                    home,
                    scenario,
                    refit(home, scenario, shuffle=True),
                    "promote",
                    "a bad push by hand",
                )
                result.decisions.append((number, "bad push"))
            elif policy == "schedule" and number and number % args.every == 0:
                register(home, scenario, refit(home, scenario), "train", "fixed schedule")
                result.decisions.append((number, "retrain+promote"))
            elif pilot is not None:
                for entry in pilot.step():
                    if entry["action"] != "improve":
                        result.decisions.append((number, entry["action"]))
            # The stream goes on once the server shows the move (within its follow interval).
            after = registry.champion_version(spec.name)
            if after != before:
                wait_for(client, problem, "version", after)
            if result.decisions and result.decisions[-1] == (number, "stage"):
                staged = registry.alias_version(spec.name, CHALLENGER)
                wait_for(client, problem, "shadowing", staged)
    return result


def autopilot_config(args: argparse.Namespace, *, shadow: bool) -> AutopilotConfig:
    """The autopilot's defaults, with the drift rule's labels scaled to a stream of this size."""
    return AutopilotConfig(
        shadow=shadow,
        interval_s=0,
        min_drift_labels=args.min_drift_labels,
        cooldown_s=0,
        bake_s=args.bake,
        bake_min_rows=200,
        improve=replace(ImproveConfig(), shadow_rows=300),
    )


def scored(replay: Replay, truth: list, classes: list) -> tuple[float, float]:
    """The served answers' metric over the whole stream and over its second half."""
    half = len(truth) // 2

    def metric(served: list, labels: list) -> float:
        metrics = score(served, labels, classes)
        return metrics[headline(metrics)]

    return metric(replay.served, truth), metric(replay.served[half:], truth[half:])


def streams(kind: str, args: argparse.Namespace) -> list[tuple[Scenario, pd.DataFrame, int | None]]:
    """(scenario, stream, batch of the bad push or None) for one kind."""
    chosen = []
    for scenario in build(kind, rows=args.rows, seed=args.seed):
        # The replay labels every batch with its truth: the no-label, few-label and
        # shuffled-label cases are bench-improve's.
        if not scenario.labelled or scenario.labelled_rows or scenario.shuffled:
            continue
        chosen.append(
            (scenario, pd.concat([scenario.early, scenario.later], ignore_index=True), None)
        )
    calm = chosen[-1][0]  # covariate shift: P(y|x) holds, so a bad push is the only harm
    stream = pd.concat([calm.early, calm.later], ignore_index=True)
    bad = replace(calm, name="bad push by hand, no change")
    chosen.append((bad, stream, len(stream) // args.batch // 3))
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kinds", nargs="+", default=["fraud"])
    parser.add_argument("--rows", type=int, default=12000)
    parser.add_argument("--batch", type=int, default=250)
    parser.add_argument("--lag", type=int, default=2, help="Batches before labels arrive.")
    parser.add_argument("--every", type=int, default=8, help="Batches between scheduled retrains.")
    parser.add_argument("--min-drift-labels", type=int, default=500)
    parser.add_argument(
        "--bake",
        type=float,
        default=5.0,
        help="Seconds a new champion bakes (the replay runs ~1 batch a second).",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--policies", nargs="+", default=list(POLICIES), choices=POLICIES)
    parser.add_argument(
        "--scenarios", nargs="+", default=None, help="Only scenarios whose name starts so."
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    results = []
    plan = [
        (kind, s)
        for kind in args.kinds
        for s in streams(kind, args)
        if not args.scenarios or s[0].name.startswith(tuple(args.scenarios))
    ]
    with Progress(console=console) as progress:
        task = progress.add_task("replaying", total=len(plan) * len(args.policies))
        for kind, (scenario, stream, bad_push_at) in plan:
            truth = stream[scenario.spec.target].tolist()
            classes = sorted(scenario.table[scenario.spec.target].unique().tolist(), key=str)
            for policy in args.policies:
                progress.update(task, description=f"{kind}: {scenario.name}: {policy}")
                with tempfile.TemporaryDirectory(prefix="mara-autopilot-") as tmp:
                    home = Path(tmp)
                    setup(home, scenario)
                    started = time.perf_counter()
                    run = replay(home, scenario, stream, policy, args, bad_push_at=bad_push_at)
                    whole, late = scored(run, truth, classes)
                results.append(
                    {
                        "kind": kind,
                        "scenario": scenario.name,
                        "policy": policy,
                        "score": round(whole, 4),
                        "score_second_half": round(late, 4),
                        "decisions": "; ".join(f"{what} @{n}" for n, what in run.decisions) or "-",
                        "seconds": round(time.perf_counter() - started, 1),
                    }
                )
                progress.advance(task)
                progress.console.log(results[-1])
    frame = pd.DataFrame(results)
    frame.to_csv(args.out / "results.csv", index=False)
    console.print(frame.to_string(index=False))
    print(markdown(frame, args))


def markdown(frame: pd.DataFrame, args: argparse.Namespace) -> str:
    """The results table: one row per kind and scenario, the three policies side by side."""
    lines = [
        f"{platform.node()}: {args.rows} rows per kind, batches of {args.batch}, labels "
        f"{args.lag} batches late, schedule every {args.every} batches",
        "",
        "| kind | scenario | " + " | ".join(args.policies) + " | autopilot's decisions (batch) |",
        "| --- | --- | " + " | ".join("---:" for _ in args.policies) + " | --- |",
    ]
    for (kind, scenario), part in frame.groupby(["kind", "scenario"], sort=False):
        by = part.set_index("policy")
        cells = [
            f"{by.loc[p, 'score']:.4f} / {by.loc[p, 'score_second_half']:.4f}"
            for p in args.policies
        ]
        decided = by.loc["autopilot", "decisions"] if "autopilot" in by.index else "-"
        lines.append(f"| {kind} | {scenario} | {' | '.join(cells)} | {decided} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
