"""Traffic written as the server captures it and labelled as the label ledger keeps it."""

from pathlib import Path

import pandas as pd
from problems import request_bodies

from mara.capture import CaptureWriter
from mara.home import Problem
from mara.labels import entries_from_objects
from mara.labels.ingest import label_problem
from mara.registry import Registry

HOUR_NS = 3600 * 10**9
BINARY = ("p", "bin")
MULTI = ("p", "multi")


def capture(
    home: Path,
    problem: tuple[str, str],
    frame: pd.DataFrame,
    prefix: str,
    at: float,
    *,
    labels: bool = True,
    target: str = "label",
) -> None:
    """Serve `frame` as captured batches at time `at` (seconds), then label every row.

    The champion answers, as it would on the server: its predictions are kept with the batch.
    """
    model = Registry(home).load(f"{problem[0]}_{problem[1]}")
    frame = frame.rename(columns={target: "label"})
    bodies = request_bodies(frame, 250, prefix)
    writer = CaptureWriter(home)
    for number, body in enumerate(bodies):
        record = {k: v for k, v in body.items() if k != "labels"}
        sent = pd.DataFrame(record["rows"], columns=record["columns"])
        writer.append(
            Problem(*problem),
            record
            | {
                "received_at": at + number,
                "model_version": "1",
                "predictions": model.predict_frame(sent),
            },
        )
    writer.close()
    if labels:
        items = [{"id": b["id"], "labels": b["labels"]} for b in bodies]
        label_problem(home, *problem, [("test", entries_from_objects(items))])
