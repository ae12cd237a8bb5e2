"""How much any LightGBM setting could gain over the defaults on a table: an oracle's ceiling.

For each table, on the training benchmark's own splits (`run.splits_for`), a grid of forest
shapes (leaves 7 to 63, minimum leaf 5 to 60 rows) is fitted at learning rate 0.1 and scored
on the test rows after 25, 50, 100, 200 and 400 rounds: clean test rows by forests fitted
without the masked copy, dirty ones by forests fitted with it (as in `run.py`). The oracle
is the one setting whose mean test score over the splits is highest, chosen by looking at
the test rows themselves, so it is an upper bound on what choosing a setting can gain, not
something a recipe could reach. Where even it is within noise of the defaults (31 leaves,
minimum leaf 20, 100 rounds), no choice of setting beats them. Writes headroom.md beside
this file.

    .venv/bin/python benchmarks/train/headroom.py [--tables Fishing Males biopsy]
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
from pathlib import Path

# isort: off
import mara  # noqa: F401  (OpenMP waits passively: set before LightGBM loads)

# isort: on
import numpy as np

from mara.train import TrainConfig
from mara.train.metrics import headline, score
from mara.train.robustness import clean_and_dirty_batches

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from run import fit_defaults, split, splits_for  # noqa: E402
from tables import REAL, Table, real_table  # noqa: E402

LEAVES = (7, 15, 31, 63)
MIN_LEAF = (5, 20, 60)
ROUNDS = (25, 50, 100, 200, 400)
DEFAULTS = (31, 20, 100)


def split_scores(table: Table, seed: int) -> dict[str, dict[tuple[int, int, int], float]]:
    """Every grid setting's clean and dirty test score on one split."""
    frame, labels, test, classes = split(table, seed)
    batches = clean_and_dirty_batches(table.spec, test, fraction=0.2, seed=seed)
    truth = test[table.spec.target].tolist()
    found: dict[str, dict[tuple[int, int, int], float]] = {"clean": {}, "dirty": {}}
    for kind in found:
        for leaves, min_leaf in itertools.product(LEAVES, MIN_LEAF):
            shape = {"num_leaves": leaves, "min_data_in_leaf": min_leaf, "num_threads": 1}
            bundle = fit_defaults(
                table,
                frame,
                labels,
                classes,
                mask=kind == "dirty",
                config=TrainConfig(seed=seed),
                params=shape,
                rounds=max(ROUNDS),
            )
            matrix, _ = bundle.prepare(batches[kind], len(test))
            for rounds in ROUNDS:
                raw = bundle.forest.booster.predict(matrix, num_iteration=rounds)
                predicted = raw.tolist() if raw.ndim == 1 else [classes[i] for i in raw.argmax(1)]
                metrics = score(predicted, truth, classes)
                found[kind][(leaves, min_leaf, rounds)] = metrics[headline(metrics)]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", nargs="*", help="Only these real tables, by name.")
    args = parser.parse_args()
    lines = [
        "Mean test score over the training benchmark's splits; gain of the oracle (the grid "
        "setting best on the test rows themselves) over LightGBM's defaults, ± its standard "
        "error over the splits (paired). Setting: leaves, minimum leaf, rounds.",
        "",
        "| table | splits | defaults clean | oracle clean | setting | gain ± se | "
        "defaults+mask dirty | oracle dirty | setting | gain ± se |",
        "| --- " + "| ---: " * 3 + "| --- | ---: " + "| ---: " * 2 + "| --- | ---: |",
    ]
    for spec in REAL:
        if args.tables and spec.name not in args.tables:
            continue
        table = real_table(spec)
        splits = [split_scores(table, seed) for seed in range(splits_for(len(table.frame)))]
        cells = []
        for kind in ("clean", "dirty"):
            grid = {s: np.array([one[kind][s] for one in splits]) for s in splits[0][kind]}
            best = max(grid, key=lambda s: grid[s].mean())
            gains = grid[best] - grid[DEFAULTS]
            se = gains.std(ddof=1) / math.sqrt(len(gains))
            setting = "/".join(str(v) for v in best)
            cells.append(
                f"{grid[DEFAULTS].mean():.4f} | {grid[best].mean():.4f} | {setting} | "
                f"{gains.mean():+.4f} ± {se:.4f}"
            )
        lines.append(f"| {table.name} | {len(splits)} | " + " | ".join(cells) + " |")
        print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    (HERE / "headroom.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
