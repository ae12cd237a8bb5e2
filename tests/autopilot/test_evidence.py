"""The autopilot's realized drop and the gate's evidence, on a real home and MLflow store."""

from pathlib import Path

import pandas as pd
from problems import binary_frame, new_segment_frame, request_bodies, write_problem

from mara.autopilot import AutopilotConfig
from mara.autopilot.pilot import Autopilot
from mara.autopilot.watch import look
from mara.capture import CaptureWriter
from mara.home import Problem
from mara.improve import ImproveConfig
from mara.improve.gate import HOLDOUT_GUARD, HOLDOUT_STALE
from mara.labels import entries_from_objects
from mara.labels.ingest import label_problem
from mara.registry import Registry
from mara.train import train_problem


def serve_and_label(home: Path, bodies: list[dict], at: float) -> None:
    """Traffic answered by v1 as the server captures it (its own predictions), labelled."""
    champion = Registry(home).load("p_q")
    writer = CaptureWriter(home)
    for number, body in enumerate(bodies):
        record = {k: v for k, v in body.items() if k != "labels"}
        predicted = champion.predict_frame(pd.DataFrame(body["rows"], columns=body["columns"]))
        served = {"received_at": at + number, "model_version": "1", "predictions": predicted}
        writer.append(Problem("p", "q"), record | served)
    writer.close()
    items = [{"id": b["id"], "labels": b["labels"]} for b in bodies]
    label_problem(home, "p", "q", [("test", entries_from_objects(items))])


def test_a_realized_drop_is_seen_on_moved_traffic_and_not_on_the_old(tmp_path: Path):
    write_problem(
        tmp_path, "p", "q", binary_frame(4000, 0), ["amount", "age", "noise"], ["channel", "region"]
    )
    train_problem(tmp_path, "p", "q")
    config = AutopilotConfig(cooldown_s=0, improve=ImproveConfig(resamples=300))
    pilot = Autopilot(tmp_path, config)
    state = pilot._state("p", "q")

    serve_and_label(tmp_path, request_bodies(binary_frame(1500, 11), 50, "old"), 1000.0)
    held = pilot._realized(state, look(tmp_path, state.spec), "1")
    assert held is not None and held.rows == 1500 and held.high >= 0, held

    serve_and_label(
        tmp_path, request_bodies(new_segment_frame(1500, 12, share=0.6), 50, "new"), 5000.0
    )
    moved = pilot._realized(state, look(tmp_path, state.spec), "1")
    assert moved is not None and moved.rows == 3000 and moved.high < 0, moved

    # One look: the floor is met, improve runs, and its audit entry holds the gate's evidence.
    entries = pilot.step()
    assert [e["action"] for e in entries][:1] == ["improve"]
    decided = entries[1]["evidence"]
    assert decided["rule"] in (HOLDOUT_GUARD, HOLDOUT_STALE)
    for key in (
        "judged_gain_low",
        "judged_gain_high",
        "judged_gain_one_sided_low",
        "champion_shift_high",
        "champion_recent",
    ):
        assert isinstance(decided[key], float)
