"""The audit log: every decision on disk, whole lines only, and as an MLflow run."""

from pathlib import Path

import mlflow

from mara.autopilot import AuditLog
from mara.registry import Registry


def test_decisions_are_kept_on_disk_and_in_mlflow(tmp_path: Path):
    registry = Registry(tmp_path)
    audit = AuditLog(tmp_path, registry)
    audit.record("p", "q", "improve", "1200 newly labelled rows", labelled_rows=1200)
    audit.record(
        "p", "q", "rollback", "autopilot: slower", to="1", latency_ratio=4.2, gain_low=float("nan")
    )
    # A line torn by a crash is the file's last; it is not a decision.
    with audit.path("p", "q").open("ab") as file:
        file.write(b'{"at": 1, "act')
    entries = audit.read("p", "q")
    assert [(e["action"], e["reason"]) for e in entries] == [
        ("improve", "1200 newly labelled rows"),
        ("rollback", "autopilot: slower"),
    ]
    assert entries[1]["evidence"]["to"] == "1"
    runs = mlflow.search_runs(
        experiment_names=["p_q"], filter_string="tags.`mara.kind` = 'autopilot'"
    )
    assert sorted(runs["tags.mara.action"]) == ["improve", "rollback"]
    rollback = runs[runs["tags.mara.action"] == "rollback"].iloc[0]
    assert rollback["metrics.latency_ratio"] == 4.2
    assert "metrics.gain_low" not in runs or runs["metrics.gain_low"].isna().all()
