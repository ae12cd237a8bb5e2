"""Late labels: reading label files, checking them, and the ledger's all-or-nothing writes."""

import json
from pathlib import Path

import pandas as pd
import pytest
from capture.test_index import capture, record
from problems import write_problem

from mara.capture import CaptureIndex
from mara.errors import LabelError
from mara.labels import ClassMatcher, LabelLedger, entries_from_objects, read_label_file
from mara.labels.ingest import check_labels, label_problem


def write_lines(path: Path, *lines: object) -> Path:
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    return path


@pytest.fixture
def home(tmp_path: Path) -> Path:
    capture(tmp_path, record("a", [[1, 2]] * 3, 100.0), record(5, [[1, 2]] * 2, 200.0))
    return tmp_path


def ingest(home: Path, path: Path, classes=(0, 1)):
    index = CaptureIndex(home, "p", "q").refresh()
    checked = check_labels(read_label_file(path), list(classes), index, source=str(path))
    return checked.write(LabelLedger(home, "p", "q"))


def test_a_label_names_its_class_however_it_is_written():
    numbers, texts = ClassMatcher([0, 1]), ClassMatcher(["fraud", "ok"])
    assert numbers.match("1") == (True, 1) and numbers.match(1.0) == (True, 1)
    assert numbers.match(True) == (True, 1) and numbers.match(" 0 ") == (True, 0)
    assert numbers.match(None) == (True, None) and numbers.match("") == (True, None)
    assert numbers.match(2) == (False, None) and numbers.match("yes") == (False, None)
    assert texts.match(" fraud ") == (True, "fraud") and texts.match("Fraud") == (False, None)


def test_jsonl_labels_join_and_report(home: Path):
    path = write_lines(
        home / "l.jsonl",
        {"id": "a", "labels": [1, None, "0"]},
        {"id": "5", "labels": [0, 1]},
        {"id": "later", "labels": [1]},
    )
    report = ingest(home, path)
    assert (report.rows_labelled, report.rows_unknown) == (5, 1)
    assert (report.ids, report.ids_joined, report.ids_not_found) == (3, 2, 1)
    assert report.not_found_sample == ["later"]
    assert report.lag_s["max"] > report.lag_s["median"] > 0
    labels = LabelLedger(home, "p", "q").read()
    assert sorted(map(tuple, labels[["key", "row", "label"]].values.tolist())) == [
        ("5", 0, 0),
        ("5", 1, 1),
        ("a", 0, 1),
        ("a", 2, 0),
        ("later", 0, 1),
    ]


def test_a_row_labelled_again_keeps_the_later_label_and_is_reported(home: Path):
    ingest(home, write_lines(home / "1.jsonl", {"id": "a", "labels": [1, 1, 1]}))
    table = home / "2.csv"
    pd.DataFrame({"id": ["a", "a"], "row": [2, 2], "label": ["0", "1"]}).to_csv(table, index=False)
    report = ingest(home, table)
    assert report.rows_relabelled == 2  # once against the ledger, once within the file
    labels = LabelLedger(home, "p", "q").read().set_index(["key", "row"])["label"]
    assert labels.to_dict() == {("a", 0): 1, ("a", 1): 1, ("a", 2): 1}


def test_parquet_labels_by_row(home: Path):
    path = home / "l.parquet"
    pd.DataFrame({"id": [5, 5], "row": [1, 0], "label": [1, 0]}).to_parquet(path)
    assert ingest(home, path).rows_labelled == 2


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("{not json", "line 2: not JSON"),
        ({"id": "a", "labels": [1, 0]}, "line 2: 2 label(s) for batch 'a', which has 3 row(s)"),
        ({"id": "a", "labels": [1, 0, 7]}, "line 2: label 7 of row 2 is not one of"),
        ({"id": "a", "labels": 1}, "line 2: 'labels' must be a list"),
        ({"labels": [1]}, "line 2: 'id' must be the request's id"),
        ({"id": True, "labels": [1]}, "line 2: 'id' must be the request's id"),
        ([1, 2], "line 2: expected an object"),
    ],
)
def test_a_bad_jsonl_line_rejects_the_whole_file(home: Path, line, expected):
    path = write_lines(home / "bad.jsonl", {"id": 5, "labels": [1, 1]}, line)
    with pytest.raises(LabelError) as caught:
        ingest(home, path)
    assert expected in str(caught.value)
    assert "nothing written" in str(caught.value)
    assert LabelLedger(home, "p", "q").files() == []


def test_every_problem_is_listed_with_its_line(home: Path):
    path = write_lines(
        home / "bad.jsonl",
        {"id": "a", "labels": [1]},
        {"id": 5, "labels": [1, 1]},
        {"id": 5, "labels": ["x", 1]},
        "[]",
    )
    with pytest.raises(LabelError) as caught:
        ingest(home, path)
    text = str(caught.value)
    assert "line 1: 1 label(s) for batch 'a'" in text
    assert "line 3: label 'x' of row 0" in text
    assert "line 4: expected an object" in text
    assert "line 2" not in text


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ({"id": ["a"], "row": ["3"], "label": ["1"]}, "row 3 of batch 'a', which has 3 row(s)"),
        ({"id": ["a"], "row": ["-1"], "label": ["1"]}, "line 2: 'row' must be a row number"),
        ({"id": ["a"], "row": ["x"], "label": ["1"]}, "line 2: 'row' must be a row number"),
        ({"id": ["a"], "row": ["1"], "label": ["maybe"]}, "label 'maybe' of row 1"),
        ({"id": ["a"], "label": ["1"]}, "columns ['row'] missing"),
    ],
)
def test_a_bad_csv_row_rejects_the_whole_file(home: Path, table, expected):
    path = home / "bad.csv"
    pd.DataFrame(table).to_csv(path, index=False)
    with pytest.raises(LabelError) as caught:
        ingest(home, path)
    assert expected in str(caught.value)
    assert LabelLedger(home, "p", "q").files() == []


def test_unreadable_files_are_label_errors(home: Path):
    with pytest.raises(LabelError, match="file not found"):
        read_label_file(home / "absent.jsonl")
    (home / "x.txt").write_text("id,row,label\n")
    with pytest.raises(LabelError, match="is .jsonl, .csv or .parquet"):
        read_label_file(home / "x.txt")
    (home / "broken.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(LabelError, match="not a readable label file"):
        read_label_file(home / "broken.parquet")


def test_checked_labels_are_written_whole_or_not_at_all(home: Path):
    index = CaptureIndex(home, "p", "q").refresh()
    path = write_lines(home / "a.jsonl", {"id": 5, "labels": [1, 0]})
    first = check_labels(read_label_file(path), [0, 1], index, source="a")
    assert LabelLedger(home, "p", "q").files() == []  # checking writes nothing
    first.write(LabelLedger(home, "p", "q"))
    folder = LabelLedger(home, "p", "q").folder
    assert [p.name.startswith("labels-") for p in folder.iterdir()] == [True]  # no partial file


def test_the_ledger_reads_each_file_once_and_keeps_the_order_files_sort_in(tmp_path: Path):
    ledger = LabelLedger(tmp_path, "p", "q")

    def record(label: int, at: float) -> dict:
        return {"key": "k", "rows": [0], "labels": [label], "labelled_at": at, "source": "t"}

    ledger.append([record(0, 1.0)])
    assert ledger.read()["label"].tolist() == [0]
    # Another process's ledger object: it sees what this one wrote, and vice versa.
    LabelLedger(tmp_path, "p", "q").append([record(1, 2.0)])
    assert ledger.read()["label"].tolist() == [1]
    # A file from a process whose clock ran behind sorts among those already read: the
    # labels are merged again in file order, so the later file's label still wins.
    early = ledger.folder / f"labels-{0:020d}-1.jsonl"
    early.write_bytes(
        b'{"key": "k", "rows": [0], "labels": [0], "labelled_at": 0.5, '
        b'"source": "t"}\n{"key": "k", "rows": [1], "labels": [1], '
        b'"labelled_at": 0.5, "source": "t"}\n'
    )
    latest = ledger.read().set_index("row")["label"]
    assert latest.to_dict() == {0: 1, 1: 1}
    # What a caller does to the frame it got does not change what the next read gives.
    mine = ledger.read()
    mine["label"] = "changed"
    assert ledger.read().set_index("row")["label"].to_dict() == {0: 1, 1: 1}


def test_label_problem_checks_every_set_against_the_training_classes_before_writing(
    home: Path,
):
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": ["fraud", "ok", "ok"]})
    write_problem(home, "p", "q", frame, ["x"], [], target="y")
    good = ("first", entries_from_objects([{"id": "a", "labels": ["ok", None, "fraud"]}]))
    bad = ("second", entries_from_objects([{"id": 5, "labels": [1, 0]}]))  # not its classes
    with pytest.raises(LabelError, match=r"second: 2 problem\(s\), nothing written"):
        label_problem(home, "p", "q", [good, bad])
    assert LabelLedger(home, "p", "q").files() == []  # the good set waited for the bad one

    later = ("later", entries_from_objects([{"id": 5, "labels": ["fraud", "fraud"]}]))
    reports = label_problem(home, "p", "q", [good, later])
    assert [r.rows_labelled for r in reports] == [2, 2]
    assert [r.ids_joined for r in reports] == [1, 1]
    assert len(LabelLedger(home, "p", "q").files()) == 2  # one file per set
    labels = LabelLedger(home, "p", "q").read()
    assert sorted(map(tuple, labels[["key", "row", "label"]].values.tolist())) == [
        ("5", 0, "fraud"),
        ("5", 1, "fraud"),
        ("a", 0, "ok"),
        ("a", 2, "fraud"),
    ]
