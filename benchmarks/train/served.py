"""What each learner costs per request, in the form the server serves it.

For each table (one 80/20 split, seed 0), `fit_model` is called three times with one learner
forced (`TrainConfig(learners=(...,))`): LightGBM (today's model), CatBoost and the blend.
Each bundle is made fast as the server makes it (`ModelBundle.make_fast`: LightGBM compiled
by lleaves, CatBoost's own evaluator), then `predict_matrix` is timed on 1 row and on 1,000
rows of the table's test rows (repeated to 1,000 when fewer): the median of 200 and of 30
calls, the learners interleaved call by call so a change in the machine's load hits each
alike. Also the recipe's estimate of the 1,000-row cost (`served_ms_per_1000_rows`) and
the holdout score. Writes served.md beside this file.

    .venv/bin/python benchmarks/train/served.py [--tables fraud Chile HI]
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

from mara.train import TrainConfig
from mara.train.metrics import headline, score
from mara.train.recipe import fit_model

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from run import split  # noqa: E402
from tables import REAL, generated_table, real_table  # noqa: E402

LEARNERS = ("lightgbm", "catboost", "blend")


def measure(name: str, budget: float) -> list[dict]:
    """The three learners on one table: served milliseconds for 1 and 1,000 rows."""
    known = {t.name: t for t in REAL}
    table = real_table(known[name]) if name in known else generated_table(name, seed=0)
    frame, labels, test, classes = split(table, 0)
    bundles = {}
    for learner in LEARNERS:
        config = TrainConfig(budget=budget, learners=(learner,))
        bundles[learner] = fit_model(table.spec, frame, labels, classes, config=config)
    x = bundles["lightgbm"].preprocessor.transform(test)
    batch = np.resize(x, (1000, x.shape[1]))
    times: dict[tuple[str, int], list[float]] = {}
    with tempfile.TemporaryDirectory() as cache:
        for bundle in bundles.values():
            assert bundle.make_fast(Path(cache))
        for rows, calls in ((1, 200), (1000, 30)):
            for _ in range(calls):
                for learner, bundle in bundles.items():
                    started = time.perf_counter()
                    bundle.predict_matrix(batch[:rows])
                    times.setdefault((learner, rows), []).append(time.perf_counter() - started)
    results = []
    truth = test[table.spec.target].tolist()
    for learner, bundle in bundles.items():
        metrics = score(bundle.predict_frame(test), truth, classes)
        metric = headline(metrics)
        results.append(
            {
                "table": name,
                "learner": learner,
                "trees": bundle.forest.trees,
                "metric": f"{metric} {metrics[metric]:.4f}",
                "ms_1": 1000 * statistics.median(times[(learner, 1)]),
                "ms_1000": 1000 * statistics.median(times[(learner, 1000)]),
                "estimate_1000": bundle.recipe["served_ms_per_1000_rows"],
            }
        )
        r = results[-1]
        print(
            f"{name:12s} {learner:9s} {r['trees']:5d} trees  {r['metric']}  1 row "
            f"{r['ms_1']:.3f} ms  1,000 rows {r['ms_1000']:.2f} ms (estimated "
            f"{r['estimate_1000']:.2f})",
            flush=True,
        )
    return results


def markdown(results: list[dict], *, budget: float, seconds: float) -> str:
    load = os.getloadavg()[0]
    lines = [
        f"One split (seed 0) per table, budget {budget:g} CPU s per fit, each learner forced; "
        f"served forms (LightGBM compiled, CatBoost's evaluator); {platform.machine()}, "
        f"Python {platform.python_version()}, 2 cores shared (load average {load:.1f} at "
        f"the end), run took {seconds:.0f} s.",
        "",
        "| table | learner | trees | holdout | ms 1 row | ms 1,000 rows | × LightGBM's | "
        "recipe's estimate |",
        "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    base = {r["table"]: r for r in results if r["learner"] == "lightgbm"}
    for r in results:
        ratio = r["ms_1000"] / base[r["table"]]["ms_1000"]
        lines.append(
            f"| {r['table']} | {r['learner']} | {r['trees']} | {r['metric']} | "
            f"{r['ms_1']:.3f} | {r['ms_1000']:.2f} | {ratio:.2f} | {r['estimate_1000']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", nargs="+", default=["fraud", "Chile", "HI"])
    parser.add_argument("--budget", type=float, default=TrainConfig().budget)
    args = parser.parse_args()
    started = time.perf_counter()
    results = [row for name in args.tables for row in measure(name, args.budget)]
    text = markdown(results, budget=args.budget, seconds=time.perf_counter() - started)
    (HERE / "served.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
