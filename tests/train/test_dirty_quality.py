"""Dirty traffic costs little: 20% of cells dirtied, the score stays within 0.02."""

from pathlib import Path

import numpy as np
import pandas as pd
from problems import write_problem

from mara.data import make_problem
from mara.registry import Registry
from mara.train import train_problem
from mara.train.robustness import clean_and_dirty_scores


def test_dirty_cells_cost_at_most_002_auc(tmp_path: Path):
    files = make_problem(tmp_path, "network", phase="p", prob="q", rows=20_000, seed=1)
    result = train_problem(tmp_path, "p", "q")
    bundle = Registry(tmp_path).load("p_q")
    scores = clean_and_dirty_scores(bundle, pd.read_parquet(files.heldout), fraction=0.2, seed=1)
    assert scores["clean"]["auc"] > 0.85
    assert scores["clean"]["auc"] - scores["dirty"]["auc"] <= 0.02, (result.summary(), scores)


def test_training_on_a_dirty_table(tmp_path: Path):
    rng = np.random.default_rng(0)
    n = 3000
    x = rng.normal(size=n)
    label = (x + rng.normal(scale=0.5, size=n) > 0).astype(int)
    cells = np.array(
        [f"{v:,.3f}" if i % 7 else "n/a" for i, v in enumerate(x * 1000)], dtype=object
    )
    frame = pd.DataFrame(
        {
            "x": cells,  # numeric column stored as text, with thousands separators and gaps
            "kind": [" a " if r < 0.5 else ("3.0" if r < 0.75 else "3") for r in rng.random(n)],
            "label": [
                None if r < 0.01 else int(v) for r, v in zip(rng.random(n), label, strict=True)
            ],
        }
    )
    write_problem(tmp_path, "p", "dirty", frame, ["x"], ["kind"])
    result = train_problem(tmp_path, "p", "dirty")
    assert result.metrics["auc"] > 0.8
    bundle = Registry(tmp_path).load("p_dirty")
    assert set(bundle.preprocessor.categories_["kind"]) == {"a", "3"}
    assert bundle.classes == [0, 1]
