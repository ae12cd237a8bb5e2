"""Small learnable problems written in the organizers' layout."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from mara.spec import CONFIG_NAME, TRAIN_NAME, problem_dir


def write_problem(home: Path, phase: str, prob: str, frame: pd.DataFrame, numeric: list[str],
                  categorical: list[str], target: str = "label") -> None:
    """Write features_config.json and raw_train.parquet for one problem."""
    folder = problem_dir(home, phase, prob)
    folder.mkdir(parents=True, exist_ok=True)
    config = {"numeric_columns": numeric, "category_columns": categorical,
              "target_column": target, "ml_type": "classification"}
    (folder / CONFIG_NAME).write_text(json.dumps(config))
    frame.to_parquet(folder / TRAIN_NAME)


def binary_frame(rows: int, seed: int) -> pd.DataFrame:
    """A learnable binary problem: 3 numeric features, 2 categoricals (one int-coded)."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "amount": rng.lognormal(3, 1, rows),
        "age": rng.normal(40, 12, rows),
        "noise": rng.normal(size=rows),
        "channel": rng.choice(["web", "shop", "phone"], rows, p=[0.5, 0.3, 0.2]),
        "region": rng.integers(0, 20, rows),
    })
    logit = (0.8 * np.log(frame.amount) - 0.05 * frame.age + (frame.channel == "web") * 1.2
             + (frame.region % 3 == 0) * 0.8 - 1.5)
    frame["label"] = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame


def multiclass_frame(rows: int, seed: int) -> pd.DataFrame:
    """A learnable 3-class problem with string labels."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "x": rng.normal(size=rows),
        "y": rng.normal(size=rows),
        "proto": rng.choice(["tcp", "udp", "icmp"], rows),
    })
    score = frame.x + 0.5 * (frame.proto == "udp") + rng.normal(scale=0.5, size=rows)
    frame["kind"] = np.where(score > 0.7, "attack", np.where(score < -0.7, "probe", "normal"))
    return frame
