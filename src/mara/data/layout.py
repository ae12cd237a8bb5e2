"""A generated problem written as the organizers lay one out, with its held-out requests."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

from mara.data.generators import DEFAULT_ROWS, MIN_ROWS, Rng, SynthError, generate
from mara.home import Home, Problem
from mara.spec import CONFIG_NAME, TRAIN_NAME, ProblemSpec, problem_dir

__all__ = ["HELDOUT_NAME", "REQUESTS_NAME", "ProblemFiles", "make_problem", "requests_dir"]

HELDOUT_NAME = "heldout.parquet"
REQUESTS_NAME = "requests.jsonl"


@dataclass(frozen=True)
class ProblemFiles:
    """What make_problem wrote: the paths and how many rows and batches went where."""

    spec: ProblemSpec
    config: Path
    train: Path
    heldout: Path
    requests: Path
    train_rows: int
    heldout_rows: int
    batches: int

    def summary(self) -> str:
        """A few lines for the terminal: where each file went and what it holds."""
        return "\n".join(
            [
                f"{self.spec.name}: {self.train_rows} training rows, "
                f"{self.heldout_rows} held out in {self.batches} request batches",
                f"  config    {self.config}",
                f"  train     {self.train}",
                f"  heldout   {self.heldout}",
                f"  requests  {self.requests}",
            ]
        )


def requests_dir(home: Path, phase: str, prob: str) -> Path:
    """Where a problem's held-out rows and replayable requests live under a project home."""
    return Home(home).requests(Problem(phase, prob))


def make_problem(
    home: Path,
    kind: str,
    *,
    phase: str,
    prob: str,
    rows: int | None = None,
    seed: int = 0,
    holdout_fraction: float = 0.2,
    batch_rows: int = 2000,
) -> ProblemFiles:
    """Write one synthetic problem under ``home`` exactly as the organizers lay it out.

    ``data/raw_data/<phase>/<prob>/`` gets features_config.json and raw_train.parquet;
    ``data/requests/<phase>/<prob>/`` gets the held-out rows (heldout.parquet) and the same rows
    as request bodies of ``batch_rows`` rows each (requests.jsonl), each with an extra
    ``"labels"`` key that a bench client strips before sending. ``rows`` defaults per kind
    (DEFAULT_ROWS). Existing files are overwritten.
    """
    if rows is None:
        rows = DEFAULT_ROWS.get(kind, MIN_ROWS)  # an unknown kind is reported by generate()
    if not 0.0 < holdout_fraction < 1.0:
        raise SynthError(f"holdout_fraction must be in (0, 1), got {holdout_fraction}")
    if batch_rows < 1:
        raise SynthError(f"batch_rows must be >= 1, got {batch_rows}")
    for part in (phase, prob):
        if not part or "/" in part or "\\" in part or part in (".", ".."):
            raise SynthError(f"phase and prob must be plain folder names, got {part!r}")
    frame, spec = generate(kind, rows=rows, seed=seed, phase=phase, prob=prob)

    # a seed-derived stream apart from the data's, so ids and the split never shift the rows
    rng = np.random.default_rng([seed, 1])
    held_count = min(max(round(len(frame) * holdout_fraction), 1), len(frame) - 1)
    order = rng.permutation(len(frame))
    train = frame.iloc[np.sort(order[held_count:])].reset_index(drop=True)
    held = frame.iloc[np.sort(order[:held_count])].reset_index(drop=True)

    raw = problem_dir(home, phase, prob)
    out = requests_dir(home, phase, prob)
    raw.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    config_path, train_path = raw / CONFIG_NAME, raw / TRAIN_NAME
    held_path, requests_path = out / HELDOUT_NAME, out / REQUESTS_NAME
    config_path.write_text(json.dumps(spec.to_config(), indent=2) + "\n")
    train.to_parquet(train_path, index=False)
    held.to_parquet(held_path, index=False)
    batches = _write_requests(requests_path, held, spec, rng=rng, batch_rows=batch_rows)
    return ProblemFiles(
        spec=spec,
        config=config_path,
        train=train_path,
        heldout=held_path,
        requests=requests_path,
        train_rows=len(train),
        heldout_rows=len(held),
        batches=batches,
    )


def _write_requests(
    path: Path, frame: pd.DataFrame, spec: ProblemSpec, *, rng: Rng, batch_rows: int
) -> int:
    # the organizers send columns in the table's order, not the config's
    columns = [c for c in frame.columns if c != spec.target]
    cells = [_json_values(frame[c]) for c in columns]
    rows = list(zip(*cells, strict=True))
    labels = _json_values(frame[spec.target])
    batches = 0
    with path.open("wb") as fh:
        for start in range(0, len(rows), batch_rows):
            body = {
                "id": str(uuid.UUID(bytes=rng.bytes(16), version=4)),
                "columns": columns,
                "rows": rows[start : start + batch_rows],
                "labels": labels[start : start + batch_rows],
            }
            fh.write(orjson.dumps(body) + b"\n")
            batches += 1
    return batches


def _json_values(column: pd.Series) -> list[Any]:
    # object dtype turns numpy scalars into Python ones; missing cells become JSON null
    return column.astype(object).where(column.notna(), None).tolist()


# ---------------------------------------------------------------------------------------------
# Shared pieces
