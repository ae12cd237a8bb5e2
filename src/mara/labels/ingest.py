"""Taking late labels in: check every entry, write all of them or none, say what joined."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mara.capture import CaptureIndex, batch_key
from mara.errors import LabelError
from mara.labels.classes import ClassMatcher, training_classes
from mara.labels.files import LabelEntry
from mara.labels.ledger import LabelLedger
from mara.spec import load_spec

__all__ = ["LOCAL", "CheckedLabels", "LabelReport", "check_labels", "label_problem"]

# The sender of labels taken from files by `mara label` on the machine (no credential).
LOCAL = "local"

_SHOWN_IDS = 10


@dataclass
class LabelReport:
    """What one set of labels did: rows labelled, ids joined or not (yet) captured, lag."""

    rows_labelled: int
    rows_unknown: int
    ids: int
    ids_joined: int
    ids_not_found: int
    rows_relabelled: int
    lag_s: dict[str, float] = field(default_factory=dict)
    not_found_sample: list[str] = field(default_factory=list)
    ledger_file: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-native figures."""
        return asdict(self)

    def summary(self) -> str:
        """A few lines for the terminal."""
        lines = [
            f"rows labelled {self.rows_labelled} ({self.rows_unknown} left unknown), "
            f"relabelled {self.rows_relabelled}",
            f"ids {self.ids}: joined to captured batches {self.ids_joined}, "
            f"not (yet) captured {self.ids_not_found}"
            + (f" (e.g. {', '.join(self.not_found_sample)})" if self.not_found_sample else ""),
        ]
        if self.lag_s:
            lag = self.lag_s
            lines.append(
                f"label lag (capture to label): median {_duration(lag['median'])}, "
                f"p90 {_duration(lag['p90'])}, max {_duration(lag['max'])}"
            )
        if self.ledger_file:
            lines.append(f"written to {self.ledger_file}")
        return "\n".join(lines)


@dataclass
class CheckedLabels:
    """Labels that passed every check, ready to be written as one ledger file."""

    source: str
    records: list[dict[str, Any]]
    ids: int
    rows_unknown: int
    joined_at: dict[str, float]
    not_found: list[str]

    def write(self, ledger: LabelLedger) -> LabelReport:
        """Append to the ledger (one file, all or nothing) and report the join."""
        relabelled = _relabelled(ledger, self.records)
        path = ledger.append(self.records) if self.records else None
        labelled_at = self.records[0]["labelled_at"] if self.records else time.time()
        lags = np.array([labelled_at - t for t in self.joined_at.values()])
        return LabelReport(
            rows_labelled=sum(len(r["rows"]) for r in self.records),
            rows_unknown=self.rows_unknown,
            ids=self.ids,
            ids_joined=len(self.joined_at),
            ids_not_found=len(self.not_found),
            rows_relabelled=relabelled,
            lag_s={
                "median": float(np.median(lags)),
                "p90": float(np.quantile(lags, 0.9)),
                "max": float(lags.max()),
            }
            if len(lags)
            else {},
            not_found_sample=self.not_found[:_SHOWN_IDS],
            ledger_file=str(path) if path else None,
        )


def check_labels(
    entries: Sequence[LabelEntry],
    classes: Sequence[Any],
    index: CaptureIndex,
    *,
    source: str,
    sender: str = LOCAL,
) -> CheckedLabels:
    """Check every entry against the training classes and the captured batches (`index`,
    refreshed by the caller). Each record names its `sender`: the credential that sent it.

    Rejected as a whole, with every problem listed (LabelError): a label that is not a
    training class, a row number past its captured batch, or a per-row list whose length
    differs from the captured batch's rows. Ids not captured yet are kept.
    """
    matcher = ClassMatcher(classes)
    problems: list[str] = []
    records: list[dict[str, Any]] = []
    now = time.time()
    unknown = 0
    joined_at: dict[str, float] = {}
    not_found: list[str] = []
    for entry in entries:
        if entry.problem is not None:
            problems.append(f"{entry.where}: {entry.problem}")
            continue
        key = batch_key(entry.id)
        batch = index.first(key)
        if batch is not None:
            problem = _shape_problem(entry, batch["n_rows"])
            if problem:
                problems.append(f"{entry.where}: {problem}")
                continue
            joined_at[key] = batch["received_at"]
        elif key not in not_found:
            not_found.append(key)
        rows, labels = [], []
        for row, value in zip(entry.rows, entry.labels, strict=True):
            known, label = matcher.match(value)
            if not known:
                problems.append(
                    f"{entry.where}: label {value!r} of row {row} is not one of the training "
                    f"classes {matcher.classes}"
                )
            elif label is None:
                unknown += 1
            else:
                rows.append(row)
                labels.append(label)
        if rows:
            records.append(
                {
                    "key": key,
                    "rows": rows,
                    "labels": labels,
                    "labelled_at": now,
                    "source": source,
                    "sender": sender,
                }
            )
    if problems:
        shown = "\n  ".join(problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise LabelError(f"{source}: {len(problems)} problem(s), nothing written:\n  {shown}{more}")
    ids = len({batch_key(e.id) for e in entries if e.problem is None})
    return CheckedLabels(source, records, ids, unknown, joined_at, not_found)


def label_problem(
    home: Path,
    phase: str,
    prob: str,
    labels: Sequence[tuple[str, Sequence[LabelEntry]]],
    *,
    sender: str = LOCAL,
) -> list[LabelReport]:
    """Take late labels for a problem's captured traffic: sets of entries, each with its source.

    Every set is checked against the problem's training classes and its captured batches
    before any is written (LabelError at the first set with a problem: nothing written);
    then each set is appended to the ledger as one file, all or nothing, and reported, in
    the order given.
    """
    spec = load_spec(home, phase, prob)
    classes = training_classes(home, spec)
    index = CaptureIndex(Path(home), phase, prob).refresh()
    checked = [
        check_labels(entries, classes, index, source=source, sender=sender)
        for source, entries in labels
    ]
    ledger = LabelLedger(home, phase, prob)
    return [each.write(ledger) for each in checked]


def _shape_problem(entry: LabelEntry, n_rows: int) -> str | None:
    if entry.positional and len(entry.labels) != n_rows:
        return f"{len(entry.labels)} label(s) for batch {entry.id!r}, which has {n_rows} row(s)"
    beyond = [r for r in entry.rows if r >= n_rows]
    if beyond:
        return f"row {beyond[0]} of batch {entry.id!r}, which has {n_rows} row(s)"
    return None


def _relabelled(ledger: LabelLedger, records: list[dict[str, Any]]) -> int:
    """Rows labelled before (in the ledger, or earlier in these records)."""
    before = ledger.read()
    before = before[before["key"].isin({record["key"] for record in records})]
    seen = set(zip(before["key"], before["row"], strict=True))
    count = 0
    for record in records:
        for row in record["rows"]:
            pair = (record["key"], row)
            count += pair in seen
            seen.add(pair)
    return count


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.1f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"
