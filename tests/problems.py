"""Small learnable problems written in the organizers' layout."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from mara.spec import CONFIG_NAME, TRAIN_NAME, problem_dir


def write_problem(
    home: Path,
    phase: str,
    prob: str,
    frame: pd.DataFrame,
    numeric: list[str],
    categorical: list[str],
    target: str = "label",
) -> None:
    """Write features_config.json and raw_train.parquet for one problem."""
    folder = problem_dir(home, phase, prob)
    folder.mkdir(parents=True, exist_ok=True)
    config = {
        "numeric_columns": numeric,
        "category_columns": categorical,
        "target_column": target,
        "ml_type": "classification",
    }
    (folder / CONFIG_NAME).write_text(json.dumps(config))
    frame.to_parquet(folder / TRAIN_NAME)


def binary_frame(rows: int, seed: int) -> pd.DataFrame:
    """A learnable binary problem: 3 numeric features, 2 categoricals (one int-coded)."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "amount": rng.lognormal(3, 1, rows),
            "age": rng.normal(40, 12, rows),
            "noise": rng.normal(size=rows),
            "channel": rng.choice(["web", "shop", "phone"], rows, p=[0.5, 0.3, 0.2]),
            "region": rng.integers(0, 20, rows),
        }
    )
    logit = (
        0.8 * np.log(frame.amount)
        - 0.05 * frame.age
        + (frame.channel == "web") * 1.2
        + (frame.region % 3 == 0) * 0.8
        - 1.5
    )
    frame["label"] = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame


def multiclass_frame(rows: int, seed: int) -> pd.DataFrame:
    """A learnable 3-class problem with string labels."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=rows),
            "y": rng.normal(size=rows),
            "proto": rng.choice(["tcp", "udp", "icmp"], rows),
        }
    )
    score = frame.x + 0.5 * (frame.proto == "udp") + rng.normal(scale=0.5, size=rows)
    frame["kind"] = np.where(score > 0.7, "attack", np.where(score < -0.7, "probe", "normal"))
    return frame


def new_segment_frame(rows: int, seed: int, *, share: float = 0.3) -> pd.DataFrame:
    """binary_frame's traffic where a new channel, "app", brings a rule the table never shows.

    A new pattern in one segment of traffic: a model of the old table cannot know it, and
    labelled traffic is the only way to learn it; the old segments are as before.
    """
    frame = binary_frame(rows, seed)
    rng = np.random.default_rng([seed, 7])
    segment = rng.random(rows) < share
    frame.loc[segment, "channel"] = "app"
    new_rule = (rng.random(rows) < 1 / (1 + np.exp(-3 * frame.noise))).astype(int)
    frame.loc[segment, "label"] = new_rule[segment]
    return frame


def request_bodies(frame: pd.DataFrame, batch_rows: int, prefix: str) -> list[dict]:
    """A frame's rows as request bodies (with their `labels`, which a client strips)."""
    columns = [c for c in frame.columns if c != "label"]
    bodies = []
    for number, start in enumerate(range(0, len(frame), batch_rows)):
        part = frame.iloc[start : start + batch_rows]
        values = part[columns].astype(object)
        bodies.append(
            {
                "id": f"{prefix}-{number}",
                "columns": columns,
                "rows": values.where(values.notna(), None).to_numpy().tolist(),
                "labels": part["label"].tolist(),
            }
        )
    return bodies
