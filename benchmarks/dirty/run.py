"""Clean versus dirty traffic: does training with masked cells hold the score?

For each generated kind, trains with several `missing_augment` rates and scores the same
held-out rows twice through the serving path (rows -> Preprocessor -> model): as sent, and
with a share of their cells dirtied (missing markers, free text, and badly formatted but
readable numbers, mixed evenly). Writes benchmarks/dirty/results.md.

    .venv/bin/python benchmarks/dirty/run.py [--fraction 0.2] [--rates 0 0.1 0.2]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from mara.data import KINDS, make_problem
from mara.registry import Registry
from mara.train import TrainConfig, train_problem
from mara.train.robustness import clean_and_dirty_scores

HERE = Path(__file__).parent

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/common.py
from common import machine, publish  # noqa: E402


def evaluate(home: Path, kind: str, rate: float, fraction: float, seed: int) -> dict:
    """Train one model and score it on clean and dirtied held-out rows."""
    files = make_problem(home, kind, phase="bench", prob=kind, seed=seed)
    result = train_problem(home, "bench", kind, config=TrainConfig(missing_augment=rate))
    bundle = Registry(home).load(result.spec.name, result.version)
    held = pd.read_parquet(files.heldout)
    scores = clean_and_dirty_scores(bundle, held, fraction=fraction, seed=seed)
    metric = result.metric
    return {
        "kind": kind,
        "missing_augment": rate,
        "metric": metric,
        "clean": scores["clean"][metric],
        "dirty": scores["dirty"][metric],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fraction", type=float, default=0.2)
    parser.add_argument("--rates", type=float, nargs="+", default=[0.0, 0.1, 0.2, 0.3])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    results = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for kind in KINDS:
            for rate in args.rates:
                row = evaluate(Path(tmp) / f"{kind}-{rate}", kind, rate, args.fraction, args.seed)
                results.append(row)
                print(
                    f"{kind:20s} augment {rate:.2f}: clean {row['clean']:.4f} "
                    f"dirty {row['dirty']:.4f} ({row['metric']})",
                    flush=True,
                )
    lines = [
        f"Held-out rows scored clean and with {args.fraction:.0%} of cells dirtied "
        f"(seed {args.seed}); {machine()}, "
        f"{time.perf_counter() - started:.0f} s.",
        "",
        "| kind | metric | missing_augment | clean | dirty | dirty - clean |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        lines.append(
            f"| {r['kind']} | {r['metric']} | {r['missing_augment']:.2f} | "
            f"{r['clean']:.4f} | {r['dirty']:.4f} | {r['dirty'] - r['clean']:+.4f} |"
        )
    publish(HERE / "results.md", lines)


if __name__ == "__main__":
    main()
