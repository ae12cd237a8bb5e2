"""Traffic scenarios built from any generated problem: what changes after the champion ships.

Each scenario is a training table and a time-ordered traffic stream with true labels. The
first part of the stream is the traffic mara serves and may get labels for; the later part is
what every policy is scored on.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from mara.capture import CaptureWriter
from mara.data import generate
from mara.data.dirty import frame_rows
from mara.data.shift import changed_rule, covariate_shift, new_segment
from mara.labels import entries_from_objects
from mara.labels.ingest import label_problem
from mara.spec import CONFIG_NAME, TRAIN_NAME, ProblemSpec, problem_dir
from mara.train.metrics import headline, score


@dataclass(frozen=True)
class Scenario:
    """A table to train the champion on, and traffic: `early` is served, `later` is scored."""

    name: str
    kind: str
    spec: ProblemSpec
    table: pd.DataFrame
    early: pd.DataFrame
    later: pd.DataFrame
    labelled: bool
    # Only the first this many early rows get labels (None: all of them).
    labelled_rows: int | None = None
    # Their labels are permuted: traffic that carries no signal a model could learn.
    shuffled: bool = False

    def labels(self) -> list:
        """The late labels the early traffic gets, in its order (possibly fewer rows)."""
        truth = self.early[self.spec.target].iloc[: self.labelled_rows].tolist()
        if self.shuffled:
            truth = np.random.default_rng(0).permutation(np.asarray(truth, dtype=object))
            truth = truth.tolist()
        return truth if self.labelled else []


def scenario_arguments(
    parser: argparse.ArgumentParser, *, kinds: list[str], out: Path, merge_help: str
) -> None:
    """The options every scenario benchmark takes: which kinds and scenarios, their size and
    seed, where results go, and merging the results of parts run side by side."""
    parser.add_argument("--kinds", nargs="+", default=kinds)
    parser.add_argument("--rows", type=int, default=12_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--scenarios", nargs="+", default=None, help="Only scenarios whose name starts so."
    )
    parser.add_argument("--out", type=Path, default=out, help="Folder of the results files.")
    parser.add_argument("--merge", nargs="+", type=Path, default=None, help=merge_help)


def write_table(home: Path, scenario: Scenario) -> None:
    """The scenario's training table in the organizers' layout under `home`."""
    spec = scenario.spec
    folder = problem_dir(home, spec.phase, spec.prob)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CONFIG_NAME).write_text(json.dumps(spec.to_config()))
    scenario.table.to_parquet(folder / TRAIN_NAME, index=False)


def capture(home: Path, scenario: Scenario, batch: int) -> None:
    """The early traffic captured through mara's CaptureWriter as requests of `batch` rows
    (ids `early-<n>`), received an hour ago, answered by version 1."""
    spec = scenario.spec
    columns = list(spec.features)
    rows = frame_rows(scenario.early, columns)
    writer = CaptureWriter(home)
    start = time.time() - 3600
    for number, first in enumerate(range(0, len(rows), batch)):
        writer.append(
            spec.problem,
            {
                "id": f"early-{number}",
                "received_at": start + number,
                "model_version": "1",
                "columns": columns,
                "rows": rows[first : first + batch],
            },
        )
    writer.close()


def label(home: Path, scenario: Scenario, batch: int) -> int:
    """The scenario's late labels for the captured requests, through the label ledger (as
    `mara label` takes them); the rows labelled."""
    labels = scenario.labels()
    items = [
        {"id": f"early-{number}", "labels": labels[first : first + batch]}
        for number, first in enumerate(range(0, len(labels), batch))
    ]
    if items:
        spec = scenario.spec
        label_problem(home, spec.phase, spec.prob, [("bench", entries_from_objects(items))])
    return len(labels)


def _split(frame: pd.DataFrame, table_rows: int, early_rows: int):
    return (
        frame.iloc[:table_rows].reset_index(drop=True),
        frame.iloc[table_rows : table_rows + early_rows].reset_index(drop=True),
        frame.iloc[table_rows + early_rows :].reset_index(drop=True),
    )


def build(kind: str, *, rows: int, seed: int, small_labels: int = 500) -> list[Scenario]:
    """The six scenarios of one generated kind."""
    rng = np.random.default_rng([seed, 11])
    frame, spec = generate(kind, rows=rows * 2, seed=seed, phase="bench", prob=kind)
    frame = frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    table_rows, early_rows = rows // 2, rows // 4
    table, pool = frame.iloc[:table_rows], frame.iloc[table_rows:].reset_index(drop=True)
    segment = new_segment(pool.iloc[: rows // 2], spec, rng, share=0.3)
    _, early, later = _split(pd.concat([table, segment], ignore_index=True), table_rows, early_rows)
    changed = changed_rule(pool.iloc[: rows // 2], spec, rng, share=0.2)
    _, early_rule, later_rule = _split(
        pd.concat([table, changed], ignore_index=True), table_rows, early_rows
    )
    shifted = covariate_shift(pool, spec, rng, rows // 2)
    _, early_shift, later_shift = _split(
        pd.concat([table, shifted], ignore_index=True), table_rows, early_rows
    )
    table = table.reset_index(drop=True)
    return [
        Scenario("new segment, labelled", kind, spec, table, early, later, True),
        Scenario(
            f"new segment, {small_labels} labelled",
            kind,
            spec,
            table,
            early,
            later,
            True,
            labelled_rows=small_labels,
        ),
        Scenario("new segment, no labels", kind, spec, table, early, later, False),
        Scenario(
            "new segment, shuffled labels", kind, spec, table, early, later, True, shuffled=True
        ),
        Scenario(
            "changed rule in a segment, labelled", kind, spec, table, early_rule, later_rule, True
        ),
        Scenario("covariate shift, labelled", kind, spec, table, early_shift, later_shift, True),
    ]


def later_score(predictions: list, scenario: Scenario, classes: list) -> float:
    """The headline metric of `predictions` on the later traffic."""
    metrics = score(predictions, scenario.later[scenario.spec.target].tolist(), classes)
    return metrics[headline(metrics)]


def paired_se(a: list, b: list, scenario: Scenario, classes: list, draws: int = 200) -> float:
    """Standard error of score(a) - score(b) on the later traffic: both scored on the same
    bootstrap resamples of its rows (generated rows, independent of each other); a resample
    missing a class is drawn again."""
    truth = scenario.later[scenario.spec.target].to_numpy()
    a, b = np.asarray(a, dtype=object), np.asarray(b, dtype=object)
    rng = np.random.default_rng(0)
    differences = []
    for _ in range(draws):
        rows = rng.integers(0, len(truth), len(truth))
        if len(set(truth[rows].tolist())) < len(set(truth.tolist())):
            continue
        part = replace(scenario, later=scenario.later.iloc[rows])
        differences.append(
            later_score(a[rows].tolist(), part, classes)
            - later_score(b[rows].tolist(), part, classes)
        )
    return float(np.std(differences, ddof=1))
