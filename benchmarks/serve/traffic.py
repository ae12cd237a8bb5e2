"""The serving benchmarks' problem and batches: the generated 41-feature network problem.

Shared by `stages.py` and `versus_mlflow.py`, so both send the very same bytes to the very
same registered model.
"""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import orjson

from mara.capture import captured_dir
from mara.data import DEFAULT_ROWS, make_problem
from mara.registry import Registry
from mara.train import TrainConfig, train_problem

PHASE, PROB, KIND = "phase-2", "prob-1", "network"
MODEL = f"{PHASE}_{PROB}"
SIZES = (1, 100, 1_000, 10_000)


def prepare(home: Path) -> Path:
    """The network problem trained (and its forest compiled) once; reused when present."""
    requests = home / "data" / "requests" / PHASE / PROB / "requests.jsonl"
    served = {(m.phase, m.prob) for m in Registry(home).served_models()}
    if (PHASE, PROB) not in served or not requests.exists():
        make_problem(home, KIND, phase=PHASE, prob=PROB, rows=DEFAULT_ROWS[KIND], seed=0)
        train_problem(home, PHASE, PROB, config=TrainConfig(compile=True))
    return requests


def bodies(requests: Path, sizes: tuple[int, ...] = SIZES) -> dict[int, tuple[list[str], list]]:
    """Columns and rows of a batch of each size, cycled from the held-out request batches."""
    columns, held_out = None, []
    for line in requests.read_bytes().splitlines():
        if line.strip():
            request = orjson.loads(line)
            columns = columns or request["columns"]
            held_out.extend(request["rows"])
    return {n: (columns, list(itertools.islice(itertools.cycle(held_out), n))) for n in sizes}


def encode(batch_id: str, columns: list[str], rows: list) -> bytes:
    """A predict request body, as a client sends it."""
    return orjson.dumps({"id": batch_id, "columns": columns, "rows": rows})


def forget_captures(home: Path) -> None:
    """Start from an empty capture, so a run's files stay its own and the disk bounded."""
    shutil.rmtree(captured_dir(home, PHASE, PROB), ignore_errors=True)
