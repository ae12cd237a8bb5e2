"""The one reader of captured traffic, on files the real CaptureWriter wrote."""

import math
from pathlib import Path

import pytest

from mara.capture import CaptureIndex, CaptureWriter, captured_dir
from mara.home import Problem
from mara.labels import LabelLedger, labelled_traffic


def record(batch_id, rows, received_at, **extra) -> dict:
    return {
        "id": batch_id,
        "received_at": received_at,
        "model_version": "1",
        "columns": ["b", "a"],
        "rows": rows,
        "predictions": [0.5] * len(rows),
        "drift": 0,
        "drift_report": {"statistic": 1.5, "threshold": 4.0, "feature_scores": {}},
        "quality": {},
        "server_ms": 1.0,
        **extra,
    }


def capture(home: Path, *records: dict) -> None:
    writer = CaptureWriter(home)
    for item in records:
        writer.append(Problem("p", "q"), item)
    writer.close()


def test_batches_and_rows_read_back_by_name(tmp_path: Path):
    capture(tmp_path, record("x", [[1, "u"], [2, "v"]], 10.0), record(7, [["3", None]], 11.0))
    index = CaptureIndex(tmp_path, "p", "q").refresh()
    batches = index.batches()
    assert batches["key"].tolist() == ["x", "7"]
    assert batches["n_rows"].tolist() == [2, 1]
    assert batches["drift_statistic"].tolist() == [1.5, 1.5]
    rows = index.rows(["7", "x"], features=["a", "b", "absent"])
    assert rows["key"].tolist() == ["x", "x", "7"]  # capture order, whatever was asked
    assert rows["a"].tolist() == ["u", "v", None]
    assert rows["b"].tolist() == [1, 2, "3"]
    assert rows["absent"].tolist() == [None, None, None]
    assert rows["row"].tolist() == [0, 1, 0]


def test_a_torn_last_line_is_skipped_until_it_is_finished(tmp_path: Path):
    capture(tmp_path, record("a", [[1, 2]], 1.0))
    path = next(captured_dir(tmp_path, "p", "q").glob("*.jsonl"))
    whole = path.read_bytes()
    index = CaptureIndex(tmp_path, "p", "q")
    with path.open("ab") as file:
        file.write(whole[: len(whole) // 2])  # a crash in the middle of a line
    assert len(index.refresh()) == 1 and index.torn_lines == 1
    with path.open("ab") as file:
        file.write(whole[len(whole) // 2 :])  # the writer finishes it after all
    assert len(index.refresh()) == 2 and index.torn_lines == 0


def test_a_damaged_line_is_counted_not_fatal(tmp_path: Path):
    folder = captured_dir(tmp_path, "p", "q")
    capture(tmp_path, record("a", [[1, 2]], 1.0))
    path = next(folder.glob("*.jsonl"))
    with path.open("ab") as file:
        file.write(b'{"id": "half\n[1, 2]\n')
    capture(tmp_path, record("b", [[1, 2]], 2.0))
    index = CaptureIndex(tmp_path, "p", "q").refresh()
    assert index.batches()["key"].tolist() == ["a", "b"]
    assert index.skipped == 2


def test_refresh_reads_only_what_was_appended(tmp_path: Path):
    capture(tmp_path, record("a", [[1, 2]], 1.0))
    index = CaptureIndex(tmp_path, "p", "q").refresh()
    capture(tmp_path, record("b", [[1, 2]], 2.0), record("c", [[1, 2]], 3.0))
    assert index.refresh().batches()["key"].tolist() == ["a", "b", "c"]
    assert len(index.refresh()) == 3


def test_labels_join_by_id_and_row_and_a_retried_id_counts_once(tmp_path: Path):
    capture(
        tmp_path,
        record("a", [[1, "x"], [2, "y"], [3, "z"]], 5.0),
        record("b", [[4, "w"]], 1.0),
        record("a", [[9, "retry"], [9, "retry"], [9, "retry"]], 6.0),
    )
    ledger = LabelLedger(tmp_path, "p", "q")
    ledger.append([{"key": "a", "rows": [0, 2], "labels": [1, 0], "labelled_at": 7.0}])
    ledger.append(
        [
            {"key": "a", "rows": [2], "labels": [1], "labelled_at": 8.0},
            {"key": "b", "rows": [0], "labels": [0], "labelled_at": 8.0},
        ]
    )
    traffic, index = labelled_traffic(tmp_path, "p", "q", ["a", "b"])
    assert len(index) == 3
    # Oldest capture first; the later label of a row wins; the retry is not read.
    assert traffic[["key", "row", "label", "b"]].values.tolist() == [
        ["b", 0, 0, 4],
        ["a", 0, 1, 1],
        ["a", 2, 1, 3],
    ]


@pytest.mark.parametrize("text", ["caf\u00e9 \u2028 line", "tab\tand\nnewline"])
def test_captured_text_with_line_separators_reads_back(tmp_path: Path, text: str):
    capture(tmp_path, record("a", [[1, text]], 1.0))
    rows = CaptureIndex(tmp_path, "p", "q").refresh().rows(features=["a"])
    assert rows["a"].tolist() == [text]


def test_the_index_is_saved_so_the_next_reader_parses_only_what_is_new(tmp_path: Path):
    capture(tmp_path, record("a", [[1, 2]], 1.0), record("b", [[3, 4]], 2.0))
    assert len(CaptureIndex(tmp_path, "p", "q").refresh()) == 2
    path = next(captured_dir(tmp_path, "p", "q").glob("*.jsonl"))
    # Damage the first line in place: a reader that parsed it again would skip it.
    text = path.read_bytes()
    path.write_bytes(b"x" + text[1:])
    again = CaptureIndex(tmp_path, "p", "q").refresh()
    assert again.batches()["key"].tolist() == ["a", "b"] and again.skipped == 0
    with path.open("ab") as file:
        file.write(text.split(b"\n")[1] + b"\n")  # "b" once more, appended
    assert len(CaptureIndex(tmp_path, "p", "q").refresh()) == 3


def test_a_stale_or_damaged_saved_index_is_rebuilt(tmp_path: Path):
    capture(tmp_path, record("a", [[1, 2]], 1.0), record("b", [[3, 4]], 2.0))
    CaptureIndex(tmp_path, "p", "q").refresh()
    path = next(captured_dir(tmp_path, "p", "q").glob("*.jsonl"))
    sidecar = next(path.parent.glob(".index/*.json"))
    path.write_bytes(path.read_bytes().split(b"\n")[0] + b"\n")  # replaced by a shorter file
    assert CaptureIndex(tmp_path, "p", "q").refresh().batches()["key"].tolist() == ["a"]
    sidecar.write_bytes(b"{broken")
    assert CaptureIndex(tmp_path, "p", "q").refresh().batches()["key"].tolist() == ["a"]


def capture_requests(home: Path, *batches: tuple[dict, bytes]) -> None:
    writer = CaptureWriter(home)
    for header, body in batches:
        writer.append_request(Problem("p", "q"), header, body)
    writer.close()


def test_a_request_body_kept_as_sent_reads_back_like_a_whole_record(tmp_path: Path):
    # Pretty-printed (newlines between tokens), with a newline escaped inside a string, a
    # NaN as Python's json writes it, and a key the server ignores: all kept as sent.
    body = (
        b'{\n  "id": "r",\n  "columns": ["b", "a"],\n  "rows": [[1, "x\\ny"], [NaN, null]],'
        b'\n  "extra": {"k": [1, 2]}\n}\n'
    )
    header = {
        key: value for key, value in record("r", [], 3.0).items() if key not in ("columns", "rows")
    } | {"predictions": [0.25, 0.75]}
    capture_requests(
        tmp_path,
        (header, body),
        (record("s", [], 4.0) | {"id": 9}, b'{"id": 9, "columns": ["a"], "rows": [["z"]]}'),
    )
    capture(tmp_path, record("t", [[5, "w"]], 5.0))
    index = CaptureIndex(tmp_path, "p", "q").refresh()
    assert index.skipped == 0 and index.torn_lines == 0
    batches = index.batches()
    assert batches["key"].tolist() == ["r", "9", "t"]
    assert batches["n_rows"].tolist() == [2, 1, 1]
    rows = index.rows(features=["a", "b"])
    assert rows["key"].tolist() == ["r", "r", "9", "t"]
    assert rows["a"].tolist() == ["x\ny", None, "z", "w"]
    assert rows["b"][0] == 1 and math.isnan(rows["b"][1]) and rows["b"][2:].tolist() == [None, 5]
    assert rows["prediction"].tolist()[:2] == [0.25, 0.75]


def test_a_request_line_is_one_line_whatever_the_body_holds(tmp_path: Path):
    body = b'{"id":"u","columns":["a"],\r\n"rows":[["\\u2028 \\n"]]}\n\n'
    capture_requests(tmp_path, ({"id": "u", "received_at": 1.0}, body))
    path = next(captured_dir(tmp_path, "p", "q").glob("*.jsonl"))
    assert path.read_bytes().count(b"\n") == 1
    assert CaptureIndex(tmp_path, "p", "q").refresh().rows(features=["a"])["a"].tolist() == [
        "\u2028 \n"
    ]
