"""The ledger records who sent each label set; a reader can trust only some senders."""

from pathlib import Path

import orjson

from mara.labels import LabelLedger


def write_set(ledger: LabelLedger, key: str, labels: list, sender: str | None) -> None:
    record = {"key": key, "rows": list(range(len(labels))), "labels": labels, "labelled_at": 1.0}
    if sender is not None:
        record["sender"] = sender
    ledger.append([record])


def test_an_old_ledger_without_senders_reads_as_unknown(tmp_path: Path):
    folder = tmp_path / "data" / "labels" / "p" / "q"
    folder.mkdir(parents=True)
    old = {"key": "a", "rows": [0, 1], "labels": [1, 0], "labelled_at": 5.0, "source": "f.jsonl"}
    (folder / "labels-00000000000000000001-1.jsonl").write_bytes(orjson.dumps(old) + b"\n")
    labels = LabelLedger(tmp_path, "p", "q").read()
    assert labels["sender"].tolist() == ["unknown", "unknown"]
    assert labels["label"].tolist() == [1, 0]
    assert LabelLedger(tmp_path, "p", "q").read(trusted=["ops"]).empty


def test_untrusted_labels_are_never_read_not_even_as_relabels(tmp_path: Path):
    ledger = LabelLedger(tmp_path, "p", "q")
    write_set(ledger, "a", [1, 1], "ops")
    write_set(ledger, "a", [0, 0], "mallory")  # later: would win if it were trusted
    write_set(ledger, "b", [0], "mallory")
    everyone = ledger.read()
    assert sorted(zip(everyone["key"], everyone["row"], everyone["label"], strict=True)) == [
        ("a", 0, 0),
        ("a", 1, 0),
        ("b", 0, 0),
    ]
    trusted = ledger.read(trusted=["ops"])
    assert sorted(zip(trusted["key"], trusted["row"], trusted["label"], strict=True)) == [
        ("a", 0, 1),
        ("a", 1, 1),
    ]
    assert set(trusted["sender"]) == {"ops"}
    write_set(ledger, "a", [0, 1], "ops")  # read incrementally: the newest ops label wins
    again = ledger.read(trusted=("ops",))
    assert sorted(zip(again["row"], again["label"], strict=True)) == [(0, 0), (1, 1)]
    assert len(ledger.read()) == 3
