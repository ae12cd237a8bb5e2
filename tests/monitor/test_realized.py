"""Realized performance: served predictions against late labels, per version and hour."""

from pathlib import Path

import pytest
from sklearn.metrics import roc_auc_score

from mara.capture import CaptureWriter
from mara.home import Problem
from mara.labels import LabelLedger
from mara.monitor.performance import RealizedPerformance


def test_realized_metrics_per_version_and_hour(tmp_path: Path):
    writer = CaptureWriter(tmp_path)
    batches = [
        ("a", "1", 7200.0, [0.9, 0.2, 0.6, 0.1]),
        ("b", "2", 7300.0, [0.3, 0.8]),
        ("c", "2", 11000.0, [0.7, 0.4]),
    ]
    for batch_id, version, at, predictions in batches:
        writer.append(
            Problem("p", "q"),
            {
                "id": batch_id,
                "received_at": at,
                "model_version": version,
                "columns": ["x"],
                "rows": [[1]] * len(predictions),
                "predictions": predictions,
            },
        )
    writer.close()
    LabelLedger(tmp_path, "p", "q").append(
        [
            {"key": "a", "rows": [0, 1, 2, 3], "labels": [1, 0, 0, 1], "labelled_at": 9e3},
            {"key": "b", "rows": [0, 1], "labels": [0, 1], "labelled_at": 9e3},
            {"key": "c", "rows": [1], "labels": [1], "labelled_at": 9e3},
        ]
    )
    rows = RealizedPerformance(tmp_path).rows(Problem("p", "q"), [0, 1])
    found = {(r.version, r.window_start): r.metrics for r in rows}
    assert found[("1", 7200.0)]["auc"] == pytest.approx(
        roc_auc_score([1, 0, 0, 1], [0.9, 0.2, 0.6, 0.1])
    )
    assert found[("2", 7200.0)] == {"labelled rows": 2.0, "auc": 1.0}
    assert found[("2", 10800.0)] == {"labelled rows": 1.0}  # one class: no AUC
    assert [r.window_start for r in rows] == sorted(r.window_start for r in rows)


def test_multiclass_is_accuracy_of_what_was_served(tmp_path: Path):
    writer = CaptureWriter(tmp_path)
    writer.append(
        Problem("p", "q"),
        {
            "id": "m",
            "received_at": 10.0,
            "model_version": "3",
            "columns": ["x"],
            "rows": [[1]] * 3,
            "predictions": ["tcp", "udp", "udp"],
        },
    )
    writer.close()
    LabelLedger(tmp_path, "p", "q").append(
        [{"key": "m", "rows": [0, 1, 2], "labels": ["tcp", "udp", "icmp"], "labelled_at": 20.0}]
    )
    (row,) = RealizedPerformance(tmp_path).rows(Problem("p", "q"), ["icmp", "tcp", "udp"])
    assert row.metrics == {"labelled rows": 3.0, "accuracy": pytest.approx(2 / 3)}
