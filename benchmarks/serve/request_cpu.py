"""Where the CPU of one 1,000-row request goes, in process: mara's stages beside MLflow's.

mara's stages are the functions its predict handler calls, in order (the JSON parse alone,
then the rest of the batch checks, the matrix, the forest's served form, the drift test,
the answer), and what runs once the answer is sent (Prometheus metrics, the dashboard's
summary line, and the batch's counts on the drift bins its writer thread makes when the
detector scored a subsample). MLflow's are what its pyfunc server does with the same rows
around the web framework: the JSON parse, the DataFrame built from `dataframe_split`, and the
model call (mara's pyfunc: the same preprocessing, then LightGBM's own predictor). Each is
the median over `rounds` of the thread's CPU time, so a busy neighbour does not count; what
the servers spent beyond these sums is their HTTP stack and framework.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pandas as pd

from mara.compiled import compiled_cache
from mara.home import Problem
from mara.monitor import summary_record
from mara.outcome import Outcome
from mara.registry import Registry
from mara.serve import telemetry
from mara.serve.batch import parse_batch
from mara.serve.errors import json_response
from mara.serve.models import ServedModel

__all__ = ["MARA_STAGES", "MLFLOW_STAGES", "breakdown"]

MARA_STAGES = ("JSON", "batch", "matrix", "forest", "drift", "answer", "metrics", "summary")
MLFLOW_STAGES = ("JSON", "DataFrame", "model")


def _cpu_ms(function: Callable[[], Any], rounds: int) -> float:
    """Median thread CPU milliseconds of `function()` over `rounds` calls."""
    spent = []
    for _ in range(rounds):
        started = time.thread_time()
        function()
        spent.append((time.thread_time() - started) * 1000)
    return statistics.median(spent)


def breakdown(
    home: Path, name: str, columns: list[str], rows: list[list], *, rounds: int = 30
) -> dict[str, dict[str, float]]:
    """`{"mara": {stage: ms}, "mlflow": {stage: ms}}` for one batch of `rows`."""
    registry = Registry(home)
    fast = registry.load(name)
    fast.make_fast(compiled_cache(home))
    interpreted = registry.load(name)  # as MLflow's server holds it: LightGBM's predictor
    served = ServedModel(name, "1", fast)
    phase, prob = name.split("_", 1)
    body = orjson.dumps({"id": "e", "columns": columns, "rows": rows})
    batch = parse_batch(body)
    matrix, quality = fast.prepare(batch.columns, batch.n_rows)
    predictions = fast.predict_matrix(matrix)
    report = fast.drift.score(matrix) if fast.drift is not None else None

    outcome = Outcome(
        problem=Problem(phase, prob),
        status=200,
        seconds=0.001,
        id="e",
        version="1",
        quality=quality,
        report=report,
        predictions=predictions,
        binary=fast.is_binary,
    )

    def summary() -> None:
        summary_record(outcome)
        if report is not None and report.counts is None:  # counted again off the path
            fast.drift.reference_.counts(matrix)

    mara = {
        "JSON": _cpu_ms(lambda: orjson.loads(body), rounds),
        "batch": _cpu_ms(lambda: parse_batch(body), rounds),
        "matrix": _cpu_ms(lambda: fast.prepare(batch.columns, batch.n_rows), rounds),
        "forest": _cpu_ms(lambda: fast.predict_matrix(matrix), rounds),
        "drift": _cpu_ms(lambda: fast.drift.score(matrix), rounds) if fast.drift else 0.0,
        "answer": _cpu_ms(
            lambda: json_response({"id": "e", "predictions": predictions, "drift": 0}), rounds
        ),
        "metrics": _cpu_ms(lambda: telemetry.observe_request(outcome, served), rounds),
        "summary": _cpu_ms(summary, rounds),
    }
    mara["batch"] = max(0.0, mara["batch"] - mara["JSON"])  # parse_batch includes the parse
    split = json.dumps({"dataframe_split": {"columns": columns, "data": rows}})
    data = json.loads(split)["dataframe_split"]
    frame = pd.DataFrame(data["data"], columns=data["columns"])
    mlflow = {
        "JSON": _cpu_ms(lambda: json.loads(split), rounds),
        "DataFrame": _cpu_ms(lambda: pd.DataFrame(data["data"], columns=data["columns"]), rounds),
        "model": _cpu_ms(lambda: interpreted.predict_frame(frame), rounds),
    }
    return {"mara": mara, "mlflow": mlflow}
