"""Drift benchmark: mara's detector against Evidently and alibi-detect on the same batches.

    python bench.py prepare  --work DIR   # problems, batches, mara's verdicts and timings
    python bench.py evidently --work DIR  # Evidently's verdicts on (some of) the same batches
    python bench.py report   --work DIR   # results.md, results.csv and detection.png here

alibi-detect needs numpy<2 and runs from its own environment (alibi/run_alibi.py) between
`prepare` and `report`; run.sh does it all.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
import warnings
from pathlib import Path

import numpy as np
from scenarios import SCENARIOS, choose_targets, draw_batch

HERE = Path(__file__).resolve().parent
KINDS = ("network", "fraud", "credit")
SIZES = (100, 500, 1000, 2000)
TRAIN_SHARE = 0.8  # of each kind's default rows, as make_problem keeps for training
POOL_ROWS = 50_000  # fresh rows the batches are drawn from
BATCHES = 20  # per kind, drifted scenario and size
NULL_BATCHES = 100  # per kind and size without drift
# The slower detectors score the first of the same batches: (drifted, no drift) per cell.
LIMITS = {"alibi-detect": (10, 50), "evidently": (3, 12)}
# mara at alpha = 5% too, for a comparison at alibi-detect's nominal false-alarm rate
DETECTORS = ("mara", "mara 5%", "alibi-detect", "evidently")
FIELDS = ["kind", "scenario", "size", "rep", "detector", "drift", "seconds"]


def prepare(work: Path, seed: int) -> None:
    """Draw problems and batches, save them for the other detectors, and score them with mara."""
    from mara.data import DEFAULT_ROWS, generate
    from mara.drift import DriftDetector
    from mara.preprocess import Preprocessor

    work.mkdir(parents=True, exist_ok=True)
    rows = []
    timing = {}
    for kind in KINDS:
        n_train = int(DEFAULT_ROWS[kind] * TRAIN_SHARE)
        frame, spec = generate(kind, rows=n_train + POOL_ROWS, seed=seed)
        frame = frame.drop(columns=[spec.target])
        pre = Preprocessor(spec).fit(frame.iloc[:n_train])
        matrix = pre.transform(frame)
        train, pool = matrix[:n_train], matrix[n_train:]
        categorical = np.array(pre.categorical_mask)

        columns = {
            "feature_names": pre.feature_names,
            "categorical": pre.categorical_mask,
            "n_categories": pre.n_categories,
        }
        started = time.perf_counter()
        detector = DriftDetector().fit(train, **columns)
        fit_seconds = time.perf_counter() - started
        lenient = DriftDetector(alpha=0.05).fit(train, **columns)
        targets = choose_targets(train, categorical, pre.n_categories)
        rng = np.random.default_rng([seed, KINDS.index(kind)])
        batches, index = [], []
        for scenario in SCENARIOS:
            count = NULL_BATCHES if scenario == "no drift" else BATCHES
            for size in SIZES:
                for rep in range(count):
                    batch = draw_batch(pool, scenario, size, targets, rng)
                    started = time.perf_counter()
                    drift = detector.score(batch).drift
                    seconds = time.perf_counter() - started
                    rows.append([kind, scenario, size, rep, "mara", drift, seconds])
                    drift = lenient.score(batch).drift
                    rows.append([kind, scenario, size, rep, "mara 5%", drift, np.nan])
                    batches.append(batch)
                    index.append((scenario, size, rep))
        np.savez(
            work / f"{kind}.npz",
            train=train,
            batches=np.concatenate(batches),
            sizes=np.array([len(b) for b in batches]),
        )
        labels = {c: list(pre.categories_[c]) for c in spec.categorical}
        meta = {
            "features": list(pre.feature_names),
            "categorical": pre.categorical_mask,
            "n_categories": pre.n_categories,
            "labels": labels,
            "index": index,
            "targets": [pre.feature_names[j] for j in targets.shifted],
            "limits": LIMITS,
        }
        (work / f"{kind}.json").write_text(json.dumps(meta))
        timing[kind] = {"train_rows": n_train, "features": len(pre.feature_names)}
        timing[kind]["fit_seconds"] = round(fit_seconds, 2)
        if kind == "network":
            timing[kind] |= _time_mara(detector, pool, rng)
        print(f"{kind}: mara fitted in {fit_seconds:.1f} s, {len(batches)} batches", flush=True)
    _write_rows(work / "mara.csv", rows)
    (work / "mara_timing.json").write_text(json.dumps(timing, indent=2))


def _time_mara(detector, pool: np.ndarray, rng: np.random.Generator) -> dict:
    """Time per 1,000-row batch, on many distinct batches, after a warm-up."""
    batches = [pool[rng.choice(len(pool), 1000, replace=False)] for _ in range(500)]
    for batch in batches[:20]:
        detector.score(batch)
    times = []
    for batch in batches:
        started = time.perf_counter()
        detector.score(batch)
        times.append(time.perf_counter() - started)
    return {
        "score_1000_rows_median_ms": round(1000 * float(np.median(times)), 3),
        "score_1000_rows_p99_ms": round(1000 * float(np.quantile(times, 0.99)), 3),
    }


def evidently(work: Path) -> None:
    """Evidently's dataset drift verdicts (DataDriftPreset defaults) on the first batches."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import DriftedColumnsCount
    from evidently.presets import DataDriftPreset

    warnings.simplefilter("ignore")  # its stattests warn on every constant column
    rows = []
    for kind in KINDS:
        data = np.load(work / f"{kind}.npz")
        meta = json.loads((work / f"{kind}.json").read_text())
        features, categorical = np.array(meta["features"]), np.array(meta["categorical"])
        numeric, cat_names = list(features[~categorical]), list(features[categorical])
        definition = DataDefinition(numerical_columns=numeric, categorical_columns=cat_names)

        reference = Dataset.from_pandas(_labelled(data["train"], meta), data_definition=definition)
        starts = np.concatenate([[0], np.cumsum(data["sizes"])])
        preset_checks = 0
        for b, (scenario, size, rep) in enumerate(meta["index"]):
            if rep >= LIMITS["evidently"][scenario == "no drift"]:
                continue
            batch = _labelled(data["batches"][starts[b] : starts[b + 1]], meta)
            started = time.perf_counter()
            current = Dataset.from_pandas(batch, data_definition=definition)
            # The preset's dataset-drift verdict is this metric's (share of drifted columns
            # >= drift_share 0.5, same defaults); the full preset also renders 40-odd plots.
            snapshot = Report([DriftedColumnsCount()]).run(current, reference)
            seconds = time.perf_counter() - started
            share = snapshot.dict()["metrics"][0]["value"]["share"]
            rows.append([kind, scenario, size, rep, "evidently", int(share >= 0.5), seconds])
            if scenario == "no drift" and size == 1000 and preset_checks < 3:
                preset_checks += 1
                started = time.perf_counter()
                full = Report([DataDriftPreset()]).run(current, reference)
                seconds = time.perf_counter() - started
                assert full.dict()["metrics"][0]["value"]["share"] == share
                rows.append([kind, scenario, size, rep, "evidently-preset", -1, seconds])
        print(f"{kind}: Evidently done", flush=True)
    _write_rows(work / "evidently.csv", rows)


def _labelled(matrix: np.ndarray, meta: dict):
    """A matrix as Evidently's input: numbers as they are, category codes as their labels."""
    import pandas as pd

    columns = dict(zip(meta["features"], matrix.T, strict=True))
    for name, categories in meta["labels"].items():
        labels = np.array([*categories, "<unseen>"], dtype=object)
        codes = columns[name]
        known = np.nan_to_num(codes, nan=len(categories)).astype(int)
        columns[name] = np.where(np.isnan(codes), None, labels[known])
    return pd.DataFrame(columns)


def report(work: Path, out: Path) -> None:
    """Aggregate every detector's verdicts into results.md, results.csv and detection.png."""
    import pandas as pd

    frames = [pd.read_csv(p) for p in sorted(work.glob("*.csv"))]
    runs = pd.concat(frames, ignore_index=True)
    verdicts = runs[runs.detector.isin(DETECTORS)]
    rates = (
        verdicts.groupby(["detector", "kind", "scenario", "size"])
        .agg(rate=("drift", "mean"), batches=("drift", "size"))
        .reset_index()
    )
    rates.to_csv(out / "results.csv", index=False, float_format="%.4f")
    timing = json.loads((work / "mara_timing.json").read_text())
    (out / "results.md").write_text(_markdown(rates, runs, timing))
    _plot(rates, out / "detection.png")
    print(f"wrote {out / 'results.md'}, {out / 'results.csv'} and {out / 'detection.png'}")


def _markdown(rates, runs, timing: dict) -> str:
    # Each problem weighs the same in a rate, whatever its batch count.
    overall = rates.groupby(["detector", "scenario", "size"]).rate.mean()
    counts = rates.groupby(["detector", "scenario"]).batches.sum()
    lines = [
        "Share of batches flagged, per scenario and batch size, averaged over the network,",
        "fraud and credit problems. Each cell reads mara / mara 5% / alibi-detect / Evidently;",
        "the no-drift row is the false-positive rate. mara runs at its default alpha = 1% and,",
        'as "mara 5%", at alpha = 5%, the nominal rate of alibi-detect\'s TabularDrift',
        "defaults (p_val = 0.05, Bonferroni over features). Evidently runs its DataDriftPreset",
        "defaults (dataset drift when at least half the columns drift).",
        "",
        "| scenario | " + " | ".join(f"{n} rows" for n in SIZES) + " | batches |",
        "|---|" + "---|" * (len(SIZES) + 1),
    ]
    for scenario in SCENARIOS:
        cells = []
        for size in SIZES:
            values = [overall.get((d, scenario, size), np.nan) for d in DETECTORS]
            cells.append(" / ".join(_number(v, 2) for v in values))
        batches = " / ".join(str(int(counts.get((d, scenario), 0))) for d in DETECTORS)
        lines.append(f"| {scenario} | " + " | ".join(cells) + f" | {batches} |")

    lines += [
        "",
        "False-positive rate per batch size (no-drift batches), and median time per batch in",
        "milliseconds per problem:",
        "",
        "| detector | "
        + " | ".join(f"FPR {n}" for n in SIZES)
        + " | FPR all | "
        + " | ".join(f"ms {k}" for k in KINDS)
        + " |",
        "|---|" + "---|" * (len(SIZES) + 1 + len(KINDS)),
    ]
    null = rates[rates.scenario == "no drift"]
    times = runs.groupby(["detector", "kind"]).seconds.median() * 1000
    for detector in (*DETECTORS, "evidently-preset"):
        part = null[null.detector == detector]
        by_size = [part[part["size"] == n].rate.mean() for n in SIZES]
        fpr_all = (part.rate * part.batches).sum() / part.batches.sum() if len(part) else np.nan
        cells = [_number(v, 3) for v in (*by_size, fpr_all)]
        cells += [_number(times.get((detector, k), np.nan), 2) for k in KINDS]
        lines.append(f"| {detector} | " + " | ".join(cells) + " |")
    net = timing["network"]
    lines += [
        "",
        f"mara on the network problem ({net['features']} features, {net['train_rows']} training"
        f" rows): fit in {net['fit_seconds']} s; score a 1,000-row batch in"
        f" {net['score_1000_rows_median_ms']} ms (median; p99 {net['score_1000_rows_p99_ms']} ms).",
        "evidently-preset times the full DataDriftPreset report on a few batches (same verdict,",
        "checked); the verdicts come from its DriftedColumnsCount metric alone, which skips the",
        "plots. alibi-detect and Evidently score the first "
        f"{LIMITS['alibi-detect'][0]} and {LIMITS['evidently'][0]} of the {BATCHES} batches per",
        f"cell ({LIMITS['alibi-detect'][1]} and {LIMITS['evidently'][1]} of the {NULL_BATCHES}"
        " without drift); they ran side by side, one core each.",
        "",
        "Scenarios (three numeric features chosen per problem: near-symmetric, many values):",
        "",
    ]
    lines += [f"- {name}: {description}" for name, (description, _) in SCENARIOS.items()]
    return "\n".join(lines) + "\n"


def _number(value: float, digits: int) -> str:
    return "-" if np.isnan(value) else f"{value:.{digits}f}"


def _plot(rates, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    overall = rates.groupby(["detector", "scenario", "size"]).rate.mean()
    names = list(SCENARIOS)
    fig, axes = plt.subplots(len(SIZES), 1, figsize=(12, 3 * len(SIZES)), sharex=True)
    width = 0.8 / len(DETECTORS)
    for ax, size in zip(axes, SIZES, strict=True):
        for i, detector in enumerate(DETECTORS):
            values = [overall.get((detector, s, size), np.nan) for s in names]
            offset = (i - (len(DETECTORS) - 1) / 2) * width
            ax.bar(np.arange(len(names)) + offset, values, width, label=detector)
        ax.set_ylim(0, 1.05)
        ax.set_ylabel(f"{size} rows")
        ax.axhline(0.01, color="grey", lw=0.5, ls="--")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.suptitle("Share of batches flagged (no drift: false positives)")
    fig.legend(handles, labels, ncol=len(DETECTORS), loc="upper center", bbox_to_anchor=(0.5, 0.97))
    axes[-1].set_xticks(np.arange(len(names)), names, rotation=30, ha="right")
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    fig.savefig(path, dpi=110)


def _write_rows(path: Path, rows: list[list]) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(FIELDS)
        writer.writerows(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=["prepare", "evidently", "report"])
    parser.add_argument("--work", type=Path, required=True, help="scratch folder for batches")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.step == "prepare":
        prepare(args.work, args.seed)
    elif args.step == "evidently":
        evidently(args.work)
    else:
        report(args.work, HERE)


if __name__ == "__main__":
    main()
