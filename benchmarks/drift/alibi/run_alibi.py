"""alibi-detect's TabularDrift on the batches `bench.py prepare` saved (its own environment).

    python run_alibi.py --work DIR

TabularDrift's tests take no NaN, so missing cells are coded as a user would have to: a
numeric one as a value below the column's training minimum (the Kolmogorov-Smirnov test
sees a rise in missing values as mass moving to the bottom), a categorical one as one more
category after the unseen code K. Defaults otherwise: p_val=0.05 with Bonferroni, categories
as found in the reference (plus those a batch brings).
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np
from alibi_detect.cd import TabularDrift

KINDS = ("network", "fraud", "credit")


def without_nan(matrix: np.ndarray, fill: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(matrix), fill, matrix)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True)
    work = parser.parse_args().work
    rows = []
    for kind in KINDS:
        data = np.load(work / f"{kind}.npz")
        meta = json.loads((work / f"{kind}.json").read_text())
        categorical = np.array(meta["categorical"])
        train = data["train"]
        fill = np.where(categorical, 0.0, np.nanmin(train, axis=0) - 1)
        cat_columns = np.flatnonzero(categorical)
        fill[cat_columns] = np.array(meta["n_categories"]) + 1
        # None: the categories are those in the reference, joined with a batch's own
        categories = {int(j): None for j in cat_columns}
        detector = TabularDrift(
            without_nan(train, fill), p_val=0.05, categories_per_feature=categories
        )
        starts = np.concatenate([[0], np.cumsum(data["sizes"])])
        limits = meta["limits"]["alibi-detect"]  # (drifted, no drift) batches per cell
        for b, (scenario, size, rep) in enumerate(meta["index"]):
            if rep >= limits[scenario == "no drift"]:
                continue
            batch = without_nan(data["batches"][starts[b] : starts[b + 1]], fill)
            started = time.perf_counter()
            drift = detector.predict(batch)["data"]["is_drift"]
            seconds = time.perf_counter() - started
            rows.append([kind, scenario, size, rep, "alibi-detect", int(drift), seconds])
        print(f"{kind}: alibi-detect done", flush=True)
    with (work / "alibi.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["kind", "scenario", "size", "rep", "detector", "drift", "seconds"])
        writer.writerows(rows)


if __name__ == "__main__":
    main()
