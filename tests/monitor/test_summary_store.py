"""Summaries written by the real writer thread, read back by the store and aggregated."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from mara.drift import DriftDetector
from mara.home import Problem
from mara.monitor import SummaryStore, SummaryWriter, summary_record
from mara.monitor.aggregate import bin_labels, feature_rows, feature_view, overview, problem_view
from mara.monitor.summary import prediction_histogram
from mara.monitor.window import BadWindow, parse_duration, parse_since
from mara.outcome import Outcome
from mara.preprocess import DataQuality

NAMES = ["a", "b", "colour"]


@pytest.fixture(scope="module")
def detector() -> DriftDetector:
    rng = np.random.default_rng(0)
    X = np.column_stack(
        [
            rng.normal(size=4000),
            rng.exponential(size=4000),
            rng.choice([0, 1, 2], size=4000, p=[0.6, 0.3, 0.1]).astype(float),
        ]
    )
    return DriftDetector(n_null_batches=200, batch_sizes=(10, 100, 500)).fit(
        X, feature_names=NAMES, categorical=[False, False, True], n_categories=[3]
    )


def quality(rows: int, missing: int = 0) -> DataQuality:
    return DataQuality(
        rows=rows,
        cells=rows * 3,
        cells_missing=missing,
        cells_coerced=1,
        cells_invalid=0,
        unseen_categories=2,
        columns_absent=0,
    )


def write_batches(home: Path, detector: DriftDetector, batches: list[np.ndarray]) -> None:
    writer = SummaryWriter(home)
    for i, X in enumerate(batches):
        report = detector.score(X)
        record = summary_record(
            Outcome(
                problem=Problem("p", "q"),
                status=200,
                version="1",
                seconds=0.001 * (i + 1),
                quality=quality(len(X), missing=i),
                report=report,
                predictions=list(np.linspace(0, 1, len(X))),
                binary=True,
            )
        )
        writer.record(record, detector=detector, matrix=X, report=report)
    writer.record(summary_record(Outcome.refused(Problem("p", "q"), 422, 0.0005)))
    writer.close()


def test_the_store_reads_back_every_batch_and_its_bin_counts(tmp_path, detector):
    rng = np.random.default_rng(1)
    batches = [
        np.column_stack(
            [
                rng.normal(size=100),
                rng.exponential(size=100),
                rng.choice([0, 1, 2], size=100).astype(float),
            ]
        )
        for _ in range(12)
    ]
    write_batches(tmp_path, detector, batches)
    store = SummaryStore(tmp_path)
    store.refresh()
    got = store.batches("p/q")
    assert len(got) == 13
    assert sorted(got.code.tolist()) == [200] * 12 + [422]
    assert got.rows.sum() == 1200
    assert got.quality[:, 1].sum() == sum(range(12))
    # The profiles add up to the detector's own bin counts of every batch, not a re-binning.
    profiles = store.profiles("p/q")
    expected = sum(detector.reference_.counts(X) for X in batches)
    assert np.array_equal(sum(p.counts for p in profiles), expected)
    assert sum(p.batches for p in profiles) == 12
    # A second refresh reads nothing twice.
    store.refresh()
    assert len(store.batches("p/q")) == 13


def test_a_line_being_written_waits_for_the_next_refresh(tmp_path, detector):
    folder = tmp_path / "data" / "monitor"
    folder.mkdir(parents=True)
    path = folder / "batches-x.jsonl"
    path.write_bytes(
        b'{"t": 1.0, "phase": "p", "prob": "q", "code": 404, "rows": 0, "ms": 1}\n'
        b'{"t": 2.0, "phase": "p", "prob": "q", "co'
    )
    store = SummaryStore(tmp_path)
    store.refresh()
    assert len(store.batches("p/q")) == 1
    with path.open("ab") as file:
        file.write(b'de": 500, "rows": 0, "ms": 2}\n')
    store.refresh()
    assert store.batches("p/q").code.tolist() == [404, 500]


def test_overview_figures_match_the_batches(tmp_path, detector):
    rng = np.random.default_rng(2)
    calm = [
        np.column_stack(
            [
                rng.normal(size=200),
                rng.exponential(size=200),
                rng.choice([0, 1, 2], size=200, p=[0.6, 0.3, 0.1]).astype(float),
            ]
        )
        for _ in range(6)
    ]
    moved = [X + np.array([3.0, 0.0, 0.0]) for X in calm[:4]]
    write_batches(tmp_path, detector, calm + moved)
    store = SummaryStore(tmp_path)
    store.refresh()
    b = store.batches("p/q")
    now = float(b.t[-1]) + 1
    (row,) = overview(store, served={"p/q": "1"}, now=now, window_s=3600)
    flags = [detector.score(X).drift for X in calm + moved]
    assert row.drift_rate == pytest.approx(sum(flags) / len(flags))
    assert sum(flags[6:]) == 4  # the moved batches are flagged
    assert row.error_rate == pytest.approx(1 / 11)
    ms = 1000 * 0.001 * np.arange(1, 11)
    assert row.p50_ms == pytest.approx(np.percentile(ms, 50))
    assert row.p99_ms == pytest.approx(np.percentile(ms, 99))
    cells = 10 * 200 * 3
    assert row.bad_cell_share == pytest.approx((sum(range(10)) + 10 + 20) / cells)
    assert row.version == "1"

    view = problem_view(store, "p/q", since=None, now=now, n_buckets=5)
    assert view.batches == 11
    assert np.nansum(view.throughput[0].values) * (view.end - view.start) / 5 == pytest.approx(11)
    assert np.nanmax(view.statistic[1].values) == pytest.approx(
        max(detector.score(X).statistic for X in calm + moved), abs=1e-3
    )


def test_feature_views_use_the_detectors_bins(tmp_path, detector):
    rng = np.random.default_rng(3)
    X = np.column_stack(
        [
            rng.normal(size=300) + 2,
            rng.exponential(size=300),
            rng.choice([0, 1, 2], size=300).astype(float),
        ]
    )
    write_batches(tmp_path, detector, [X])
    store = SummaryStore(tmp_path)
    store.refresh()
    profiles = store.profiles("p/q")
    rows = feature_rows(profiles, detector, start=0, end=2e9)
    assert rows[0].name == "a"  # the shifted feature drifts most
    assert [r.name for r in feature_rows(profiles, detector, start=0, end=2e9, query="COL")] == [
        "colour"
    ]
    view = feature_view(profiles, detector, version="1", feature="a")
    ref = detector.reference_
    first, last = int(ref.bin_start[0]), int(ref.bin_start[1])
    assert np.allclose(view.recent, ref.counts(X)[first:last] / 300)
    assert np.allclose(view.reference, ref.train_counts[first:last] / 4000)
    assert len(view.labels) == last - first
    labels = bin_labels(detector, 2, ["red", "green", "blue"])
    assert labels == ["red", "green", "blue", "unseen", "missing"]
    other = feature_view(profiles, detector, version="2", feature="a")
    assert other.recent_rows == 0 and not other.recent.any()


def test_prediction_histograms():
    assert prediction_histogram([0.0, 0.05, 0.5, 0.99, 1.0], binary=True) == [
        2,
        0,
        0,
        0,
        0,
        1,
        0,
        0,
        0,
        2,
    ]
    assert prediction_histogram(["x", "y", "x", 3], binary=False) == {"x": 2, "y": 1, "3": 1}


def test_windows_read_or_refuse_clearly():
    assert parse_duration("15m") == 900
    assert parse_since("2h", now=10_000.0) == 10_000.0 - 7200
    assert parse_since("2026-01-01", now=0.0) == 1767225600.0
    for bad in ("", "soon", "-5m", "12 parsecs"):
        with pytest.raises(BadWindow):
            parse_since(bad, now=0.0)
    with pytest.raises(BadWindow):
        parse_duration("0s")
    assert math.isfinite(parse_since("2026-01-01T04:00+02:00", now=0.0))


def test_lines_from_several_workers_merge_in_time_order(tmp_path):
    folder = tmp_path / "data" / "monitor"
    folder.mkdir(parents=True)
    line = (
        '{{"t": {t}, "phase": "p", "prob": "q", "v": "1", "code": 200, "rows": 1, '
        '"ms": 1, "pred": {pred}}}\n'
    )
    (folder / "batches-a.jsonl").write_text(
        line.format(t=1, pred='{"x": 1}') + line.format(t=3, pred='{"x": 2}')
    )
    (folder / "batches-b.jsonl").write_text(
        '{"t": 0, "phase": "p", "prob": "q", "code": 503, "rows": 0, "ms": 1}\n'
    )
    store = SummaryStore(tmp_path)
    store.refresh()
    first = store.batches("p/q")
    assert first.t.tolist() == [0, 1, 3]
    with (folder / "batches-b.jsonl").open("a") as file:
        file.write(line.format(t=2, pred='{"y": 5}'))
    store.refresh()
    merged = store.batches("p/q")
    assert merged.t.tolist() == [0, 1, 2, 3]
    assert merged.code.tolist() == [503, 200, 200, 200]
    assert merged.pred_labels == ["x", "y"]
    assert merged.pred.tolist() == [[0, 0], [1, 0], [0, 5], [2, 0]]
