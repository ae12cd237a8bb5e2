"""How far above the naive retrain any policy could go in the new-segment scenario.

The new segment's rule is known to the generator: binary labels are "rank of one feature
above its median" with 10% flipped, multiclass labels that feature's rank bin. The oracle
scores the segment's later rows with that rule (the best any model can do there) and every
other row with the naive retrain's own scores, so its lead over the naive retrain is the
most that learning the segment better could add on later traffic.

    .venv/bin/python benchmarks/improve/ceiling.py [--kinds fraud credit] [--rows 12000]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from run import retrain, setup
from scenarios import build, later_score
from sklearn.metrics import roc_auc_score

from mara.data import KINDS
from mara.data.shift import NEW_CATEGORY, driver_rank
from mara.labels import positive_class

console = Console(width=160)


def oracle_lead(kind: str, rows: int, seed: int) -> dict:
    """Later-traffic score of keep, naive retrain and the oracle on the new segment."""
    scenario = build(kind, rows=rows, seed=seed)[0]
    spec = scenario.spec
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        champion = setup(home, scenario)
        naive = retrain(home, scenario, scenario.early, scenario.early[spec.target].tolist())
    later = scenario.later
    # The rule was drawn on the early and later traffic together, in that order.
    rank = driver_rank(pd.concat([scenario.early, later], ignore_index=True), spec)[-len(later) :]
    segment = later[spec.categorical[0]].astype(str).eq(NEW_CATEGORY).to_numpy()
    truth = later[spec.target].to_numpy()
    classes = champion.classes
    predicted = np.asarray(naive.predict_frame(later), dtype=object)
    if len(classes) == 2:
        positive = positive_class(classes)
        oracle = predicted.astype(float)
        oracle[segment] = np.where(rank[segment] > 0.5, 0.9, 0.1)
        best = roc_auc_score(truth == positive, oracle)
    else:
        bins = np.minimum((rank * len(classes)).astype(int), len(classes) - 1)
        ordered = sorted(pd.unique(scenario.table[spec.target]).tolist(), key=str)
        oracle = predicted.copy()
        oracle[segment] = np.asarray(ordered, dtype=object)[bins[segment]]
        best = float((oracle == truth).mean())
    return {
        "kind": kind,
        "keep": later_score(champion.predict_frame(later), scenario, classes),
        "naive": later_score(predicted.tolist(), scenario, classes),
        "oracle": best,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kinds", nargs="+", default=list(KINDS))
    parser.add_argument("--rows", type=int, default=12_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    lines = [
        "| kind | keep | naive retrain | oracle on the segment | oracle - naive |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for kind in args.kinds:
        found = oracle_lead(kind, args.rows, args.seed)
        lines.append(
            f"| {kind} | {found['keep']:.4f} | {found['naive']:.4f} | {found['oracle']:.4f} | "
            f"{found['oracle'] - found['naive']:+.4f} |"
        )
        console.print(lines[-1])
    (Path(__file__).parent / "ceiling.md").write_text("\n".join(lines) + "\n")
    console.print("\n".join(lines))


if __name__ == "__main__":
    main()
