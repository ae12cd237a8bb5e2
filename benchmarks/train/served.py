"""What each learner costs per request, in the form the server serves it.

On each table (one 80/20 split, seed 0, as bench-train's first), `fit_model` is called as
before the learners came (`TrainConfig(learners=("lightgbm",))`: LightGBM alone, the served
model until now) and as `mara train` calls it now (every learner; the rule chooses); on a
few tables (`--learners-on`) also with CatBoost and the blend forced, for each learner's
cost. Each bundle is made fast as the server makes it (`ModelBundle.make_fast`: LightGBM
compiled by lleaves, CatBoost's own evaluator), then `predict_matrix` is timed on 1 row and
on 1,000 rows of the table's test rows (repeated to 1,000 when fewer): the median (p50) of
200 and of 30 calls, the models interleaved call by call so a change in the machine's load
hits each alike. Beside them the recipe's own figures for the chosen form
(`served_ms_1_row`, `served_ms_per_1000_rows`: CPU time on one thread) and the holdout
score. Writes served.md beside this file, a table at a time.

    .venv/bin/python benchmarks/train/served.py [--tables Chile HI] [--learners-on fraud]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from mara.data import KINDS
from mara.train import TrainConfig
from mara.train.metrics import headline, score
from mara.train.recipe import fit_model

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from run import budget_words, split  # noqa: E402
from tables import REAL, generated_table, real_table  # noqa: E402

# The fits compared: LightGBM alone (as before), mara's choice, and each learner forced.
FITS = {
    "lightgbm only": ("lightgbm",),
    "mara": ("lightgbm", "catboost", "blend"),
    "catboost forced": ("catboost",),
    "blend forced": ("blend",),
}


def measure(name: str, budget: float | None, *, every_learner: bool) -> list[dict]:
    """The fits on one table: served milliseconds for 1 and 1,000 rows."""
    known = {t.name: t for t in REAL}
    table = real_table(known[name]) if name in known else generated_table(name, seed=0)
    frame, labels, test, classes = split(table, 0)
    fits = list(FITS) if every_learner else ["lightgbm only", "mara"]
    bundles = {}
    for fit in fits:
        config = TrainConfig(budget=budget, learners=FITS[fit])
        bundles[fit] = fit_model(table.spec, frame, labels, classes, config=config)
    x = bundles["mara"].preprocessor.transform(test)
    batch = np.resize(x, (1000, x.shape[1]))
    times: dict[tuple[str, int], list[float]] = {}
    with tempfile.TemporaryDirectory() as cache:
        for bundle in bundles.values():
            assert bundle.make_fast(Path(cache))
        for rows, calls in ((1, 200), (1000, 30)):
            for _ in range(calls):
                for fit, bundle in bundles.items():
                    started = time.perf_counter()
                    bundle.predict_matrix(batch[:rows])
                    times.setdefault((fit, rows), []).append(time.perf_counter() - started)
    results = []
    truth = test[table.spec.target].tolist()
    for fit, bundle in bundles.items():
        metrics = score(bundle.predict_frame(test), truth, classes)
        metric = headline(metrics)
        results.append(
            {
                "table": name,
                "fit": fit,
                "learner": bundle.learner,
                "trees": bundle.forest.trees,
                "metric": f"{metric} {metrics[metric]:.4f}",
                "ms_1": 1000 * statistics.median(times[(fit, 1)]),
                "ms_1000": 1000 * statistics.median(times[(fit, 1000)]),
                "estimate_1": bundle.recipe["served_ms_1_row"],
                "estimate_1000": bundle.recipe["served_ms_per_1000_rows"],
            }
        )
        r = results[-1]
        print(
            f"{name:12s} {fit:15s} {r['learner']:9s} {r['trees']:5d} trees  {r['metric']}  "
            f"1 row {r['ms_1']:.3f} ms  1,000 rows {r['ms_1000']:.2f} ms (recipe "
            f"{r['estimate_1']:.3f} / {r['estimate_1000']:.2f})",
            flush=True,
        )
    return results


def markdown(results: list[dict], *, budget: float | None, seconds: float) -> str:
    load = " / ".join(f"{v:.1f}" for v in os.getloadavg())
    lines = [
        f"One split (seed 0) per table, budget {budget_words(budget)} per fit; served forms "
        f"(LightGBM compiled, CatBoost's evaluator, a blend both), p50 of 200 calls of 1 row "
        f"and of 30 calls of 1,000 rows, the fits interleaved call by call; "
        f"{platform.machine()}, Python {platform.python_version()}, 2 cores shared with "
        f"other work (load average {load} when written), run took {seconds:.0f} s.",
        "",
        "Served p50 of mara's choice beside LightGBM alone (the served model before the "
        "learners came):",
        "",
        "| table | mara chose | trees LightGBM alone / mara | holdout LightGBM alone | "
        "holdout mara | p50 1 row ms alone / mara | p50 1,000 rows ms alone / mara | "
        "× at 1,000 rows | recipe's figures for mara (CPU, 1 thread) 1 row / 1,000 |",
        "| --- | --- | ---: | --- | --- | ---: | ---: | ---: | ---: |",
    ]
    by = {(r["table"], r["fit"]): r for r in results}
    tables = list(dict.fromkeys(r["table"] for r in results))
    ratios = []
    for name in tables:
        alone, mara = by[(name, "lightgbm only")], by[(name, "mara")]
        ratio = mara["ms_1000"] / alone["ms_1000"]
        ratios.append(ratio)
        lines.append(
            f"| {name} | {mara['learner']} | {alone['trees']} / {mara['trees']} | "
            f"{alone['metric']} | {mara['metric']} | {alone['ms_1']:.3f} / {mara['ms_1']:.3f} | "
            f"{alone['ms_1000']:.2f} / {mara['ms_1000']:.2f} | {ratio:.2f} | "
            f"{mara['estimate_1']:.3f} / {mara['estimate_1000']:.2f} |"
        )
    lines += [
        "",
        f"Median ratio at 1,000 rows (mara / LightGBM alone): {statistics.median(ratios):.2f}; "
        f"largest {max(ratios):.2f}.",
        "",
        "Each learner forced (where measured):",
        "",
        "| table | learner | trees | holdout | p50 1 row ms | p50 1,000 rows ms | × LightGBM's | "
        "recipe's figures 1 row / 1,000 |",
        "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for name in tables:
        if (name, "catboost forced") not in by:
            continue
        base = by[(name, "lightgbm only")]
        for fit in ("lightgbm only", "catboost forced", "blend forced"):
            r = by[(name, fit)]
            lines.append(
                f"| {name} | {r['learner']} | {r['trees']} | {r['metric']} | {r['ms_1']:.3f} | "
                f"{r['ms_1000']:.2f} | {r['ms_1000'] / base['ms_1000']:.2f} | "
                f"{r['estimate_1']:.3f} / {r['estimate_1000']:.2f} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    names = [t.name for t in REAL] + list(KINDS)
    parser.add_argument("--tables", nargs="+", default=names)
    parser.add_argument("--learners-on", nargs="*", default=["Chile", "HI", "fraud"])
    parser.add_argument(
        "--budget", type=float, default=None, help="CPU s per fit (default: mara's)."
    )
    args = parser.parse_args()
    started = time.perf_counter()
    results: list[dict] = []
    for name in args.tables:
        results += measure(name, args.budget, every_learner=name in args.learners_on)
        text = markdown(results, budget=args.budget, seconds=time.perf_counter() - started)
        (HERE / "served.md.partial").write_text(text)
        (HERE / "served.md.partial").replace(HERE / "served.md")
    print((HERE / "served.md").read_text())


if __name__ == "__main__":
    main()
