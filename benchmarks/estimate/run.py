"""Performance before labels: the estimate against the realized metric, window by window.

For each generated kind, a champion is trained on a table and four streams of traffic are
captured (through mara's CaptureWriter, each batch's drift scored as the server does, and
every row labelled through the label ledger), 8 windows of 1,000 rows each:

- no shift: more rows of the table's distribution;
- covariate shift: rows drawn with a preference for high values of one feature (x moves
  inside the table's range, P(y | x) does not): the case CBPE is made for;
- out of range: every numeric feature moved up by 3 standard deviations (x leaves the
  range the holdout covers): the estimate has nothing to stand on, the region flag should
  say so;
- concept shift: in a segment, high values of one feature now mean another outcome (x does
  not move, P(y | x) does): no estimate without labels can see it.

Every window is estimated through `mara.estimate.estimate_windows` with each calibration
(none, Platt, isotonic, temperature for multiclass, and the automatic choice) and compared
with the realized metric of the same rows. Reported: mean absolute error per scenario and
calibration, the band's coverage, the share of windows flagged out of region and the share
of batches the drift detector flagged.

    .venv/bin/python benchmarks/estimate/run.py [--kinds fraud credit] [--rows 16000]
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.progress import Progress

from mara.capture import CaptureWriter
from mara.data import KINDS, generate
from mara.data.dirty import frame_rows
from mara.data.shift import changed_rule, covariate_shift
from mara.estimate import estimate_windows
from mara.estimate.calibrate import BINARY_METHODS, MULTICLASS_METHODS
from mara.labels import entries_from_objects
from mara.labels.ingest import label_problem
from mara.registry import Registry
from mara.spec import CONFIG_NAME, TRAIN_NAME, ProblemSpec, problem_dir
from mara.train import TrainConfig, train_problem

HERE = Path(__file__).parent

WINDOW_ROWS, WINDOWS, BATCH = 1000, 8, 250
SCENARIOS = ("no shift", "covariate shift", "out of range", "concept shift")
console = Console(width=160)


def streams(kind: str, rows: int, seed: int) -> tuple[ProblemSpec, pd.DataFrame, dict]:
    """The table and each scenario's traffic (WINDOWS x WINDOW_ROWS rows, true labels)."""
    rng = np.random.default_rng([seed, 5])
    frame, spec = generate(
        kind, rows=rows // 2 + 4 * WINDOWS * WINDOW_ROWS, seed=seed, phase="bench", prob=kind
    )
    frame = frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    table, pool = frame.iloc[: rows // 2], frame.iloc[rows // 2 :].reset_index(drop=True)
    n = WINDOWS * WINDOW_ROWS
    moved = pool.iloc[n : 2 * n].reset_index(drop=True)
    for column in spec.numeric:
        moved[column] = moved[column] + 3 * table[column].std()
    traffic = {
        "no shift": pool.iloc[:n].reset_index(drop=True),
        "covariate shift": covariate_shift(pool.iloc[n:], spec, rng, n),
        "out of range": moved,
        "concept shift": changed_rule(
            pool.iloc[2 * n : 3 * n].reset_index(drop=True), spec, rng, share=0.3
        ),
    }
    return spec, table.reset_index(drop=True), traffic


def serve_and_label(home: Path, spec: ProblemSpec, traffic: pd.DataFrame) -> None:
    """Capture the traffic as the server would (drift scored per batch), then label it all."""
    bundle = Registry(home).load(spec.name)
    columns = list(spec.features)
    writer = CaptureWriter(home)
    items = []
    for number, first in enumerate(range(0, len(traffic), BATCH)):
        part = traffic.iloc[first : first + BATCH]
        report = bundle.drift.score(bundle.preprocessor.transform(part[columns]))
        window = first // WINDOW_ROWS
        writer.append(
            spec.problem,
            {
                "id": f"b{number}",
                "received_at": 3600.0 * (window + 1) + number,
                "model_version": "1",
                "columns": columns,
                "rows": frame_rows(part, columns),
                "drift": report.drift,
                "drift_report": report.as_dict(),
            },
        )
        items.append({"id": f"b{number}", "labels": part[spec.target].tolist()})
    writer.close()
    label_problem(home, spec.phase, spec.prob, [("bench", entries_from_objects(items))])


def run_scenario(
    root: Path, kind: str, name: str, spec: ProblemSpec, table: pd.DataFrame, traffic: pd.DataFrame
) -> list[dict]:
    spec = ProblemSpec(
        phase="bench",
        prob=f"{kind}-{name.replace(' ', '-')}",
        numeric=spec.numeric,
        categorical=spec.categorical,
        target=spec.target,
    )
    folder = problem_dir(root, spec.phase, spec.prob)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CONFIG_NAME).write_text(json.dumps(spec.to_config()))
    table.to_parquet(folder / TRAIN_NAME, index=False)
    train_problem(root, spec.phase, spec.prob, config=TrainConfig())
    serve_and_label(root, spec, traffic)
    binary = table[spec.target].nunique() == 2
    methods = (*(BINARY_METHODS if binary else MULTICLASS_METHODS), "auto")
    found = []
    for method in methods:
        started = time.perf_counter()
        windows = estimate_windows(
            root, spec.phase, spec.prob, "1", calibration=None if method == "auto" else method
        )
        seconds = (time.perf_counter() - started) / len(windows)
        for number, e in enumerate(windows):
            found.append(
                {
                    "kind": kind,
                    "scenario": name,
                    "calibration": method,
                    "window": number,
                    "metric": e.metric,
                    "estimate": e.estimate,
                    "low": e.low,
                    "high": e.high,
                    "realized": e.realized,
                    "baseline": e.baseline,
                    "rows": e.n_rows,
                    "chosen": e.method,
                    "in_region": e.in_region,
                    "outside_share": e.outside_share,
                    "effective_share": e.effective_share,
                    "domain_auc": e.domain_auc,
                    "drift_share": e.drift_share,
                    "seconds": seconds,
                }
            )
    return found


def summarise(frame: pd.DataFrame) -> str:
    frame = frame.assign(
        error=(frame["estimate"] - frame["realized"]).abs(),
        covered=(frame["low"] <= frame["realized"]) & (frame["realized"] <= frame["high"]),
    )
    lines = [
        "| kind | scenario | metric | realized (mean) | error: none / Platt / isotonic / "
        "temperature | auto (chosen) | band coverage (auto) | out of region | "
        "drift-flagged batches |",
        "| --- | --- | --- | ---: | --- | --- | ---: | ---: | ---: |",
    ]
    for (kind, scenario), part in frame.groupby(["kind", "scenario"], sort=False):
        by = part.groupby("calibration")["error"].mean()
        errors = " / ".join(
            f"{by[m]:.4f}" if m in by else "-" for m in ("none", "platt", "isotonic", "temperature")
        )
        auto = part[part["calibration"] == "auto"]
        lines.append(
            f"| {kind} | {scenario} | {auto['metric'].iloc[0]} | {auto['realized'].mean():.4f} "
            f"| {errors} | {auto['error'].mean():.4f} ({auto['chosen'].iloc[0]}) "
            f"| {auto['covered'].mean():.0%} | {(~auto['in_region']).mean():.0%} "
            f"| {auto['drift_share'].mean():.0%} |"
        )
    auto = frame[frame["calibration"] == "auto"]
    lines += [
        "",
        "| scenario | windows | mean abs error (auto) | band coverage | out of region "
        "| outside share (mean) | effective share (mean) | drift-flagged batches |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for scenario, part in auto.groupby("scenario", sort=False):
        lines.append(
            f"| {scenario} | {len(part)} | {part['error'].mean():.4f} "
            f"| {part['covered'].mean():.0%} "
            f"| {(~part['in_region']).mean():.0%} | {part['outside_share'].mean():.2f} "
            f"| {part['effective_share'].mean():.2f} | {part['drift_share'].mean():.0%} |"
        )
    seconds = auto.groupby(["kind", "scenario"], sort=False)["seconds"].first()
    lines += [
        "",
        f"Estimating one window of {WINDOW_ROWS:,} rows (read, score, calibrate, band, "
        f"region check): median {seconds.median():.2f} s, at most {seconds.max():.2f} s.",
    ]
    return "\n".join(lines)


def plot(frame: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    auto = frame[frame["calibration"] == "auto"]
    kinds = list(dict.fromkeys(auto["kind"]))
    fig, axes = plt.subplots(
        len(kinds),
        len(SCENARIOS),
        figsize=(4 * len(SCENARIOS), 2.6 * len(kinds)),
        squeeze=False,
        sharex=True,
    )
    for row, kind in enumerate(kinds):
        for col, scenario in enumerate(SCENARIOS):
            ax = axes[row][col]
            part = auto[(auto["kind"] == kind) & (auto["scenario"] == scenario)]
            x = part["window"].to_numpy()
            ax.fill_between(x, part["low"], part["high"], alpha=0.25, label="band (95%)")
            ax.plot(x, part["estimate"], marker="o", label="estimated")
            ax.plot(x, part["realized"], marker="s", color="black", label="realized")
            ax.axhline(part["baseline"].iloc[0], ls="--", color="grey", lw=1, label="holdout")
            out = part[~part["in_region"]]
            ax.scatter(
                out["window"],
                out["estimate"],
                marker="x",
                color="red",
                s=60,
                zorder=5,
                label="out of region",
            )
            ax.set_title(f"{kind}: {scenario}", fontsize=9)
            ax.set_ylabel(part["metric"].iloc[0], fontsize=8)
            ax.tick_params(labelsize=7)
    axes[0][0].legend(fontsize=7, loc="lower left")
    for ax in axes[-1]:
        ax.set_xlabel("window (1,000 rows)", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    parser.add_argument("--rows", type=int, default=16000, help="table rows x 2")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    started = time.perf_counter()
    found: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp, Progress(console=console) as progress:
        task = progress.add_task("scenarios", total=len(args.kinds) * len(SCENARIOS))
        for kind in args.kinds:
            spec, table, traffic = streams(kind, args.rows, args.seed)
            for name in SCENARIOS:
                progress.update(task, description=f"{kind}: {name}")
                found += run_scenario(Path(tmp), kind, name, spec, table, traffic[name])
                progress.advance(task)
    frame = pd.DataFrame(found)
    frame.to_csv(HERE / "results.csv", index=False)
    plot(frame, HERE / "estimated.png")
    machine = (
        f"{platform.machine()}, {__import__('os').cpu_count()} cores, Python "
        f"{platform.python_version()}; {time.perf_counter() - started:.0f} s in all"
    )
    text = (
        f"Estimated against realized performance, {WINDOWS} windows of {WINDOW_ROWS:,} "
        f"rows per scenario, table of {args.rows // 2:,} rows (holdout 20%). "
        f"{machine}.\n\n{summarise(frame)}\n"
    )
    (HERE / "results.md").write_text(text)
    console.print(text)


if __name__ == "__main__":
    main()
