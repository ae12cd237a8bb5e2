"""Traffic scenarios built from any generated problem: what changes after the champion ships.

Each scenario is a training table and a time-ordered traffic stream with true labels. The
first part of the stream is the traffic mara serves and may get labels for; the later part is
what every policy is scored on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mara.data import generate
from mara.labels import positive_class
from mara.spec import CONFIG_NAME, TRAIN_NAME, ProblemSpec, problem_dir

NEW_CATEGORY = "__new_segment__"


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


def write_table(home: Path, scenario: Scenario) -> None:
    """The scenario's training table in the organizers' layout under `home`."""
    spec = scenario.spec
    folder = problem_dir(home, spec.phase, spec.prob)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CONFIG_NAME).write_text(json.dumps(spec.to_config()))
    scenario.table.to_parquet(folder / TRAIN_NAME, index=False)


def _split(frame: pd.DataFrame, table_rows: int, early_rows: int):
    return (
        frame.iloc[:table_rows].reset_index(drop=True),
        frame.iloc[table_rows : table_rows + early_rows].reset_index(drop=True),
        frame.iloc[table_rows + early_rows :].reset_index(drop=True),
    )


def _widest_numeric(frame: pd.DataFrame, spec: ProblemSpec) -> str:
    return max(spec.numeric, key=lambda c: frame[c].nunique())


def _rank(frame: pd.DataFrame, spec: ProblemSpec) -> np.ndarray:
    """Percentile rank of the widest numeric feature; tied values share one rank, so a rule
    on it is a function of the row's cells (by row order, 39% zeros of a count feature took
    classes by their position in the stream, which no model can learn)."""
    return frame[_widest_numeric(frame, spec)].rank(pct=True, method="average").to_numpy()


def segment_of(frame: pd.DataFrame, spec: ProblemSpec, share: float) -> np.ndarray:
    """Rows whose first categorical holds one of the levels that together cover ~`share`."""
    column = frame[spec.categorical[0]].astype(str)
    counts = column.value_counts(normalize=True)
    levels, covered = [], 0.0
    for level, part in counts.sort_values().items():  # rarer levels first: a niche segment
        if covered + part > share * 1.5:
            continue
        levels.append(level)
        covered += part
        if covered >= share:
            break
    return column.isin(levels).to_numpy()


def new_segment(frame: pd.DataFrame, spec: ProblemSpec, rng: np.random.Generator, share: float):
    """A share of rows joins a new segment (a category never seen) with a rule of its own.

    There, high values of one feature mean the positive class (binary, 10% of labels flipped)
    or the classes follow that feature's rank (multiclass). Elsewhere nothing changes, so the
    original holdout still describes the old segments.
    """
    out = frame.copy()
    segment = rng.random(len(out)) < share
    column = spec.categorical[0]
    out[column] = out[column].astype(object)
    out.loc[segment, column] = NEW_CATEGORY
    rank = _rank(out, spec)
    classes = sorted(frame[spec.target].unique().tolist(), key=str)
    if len(classes) == 2:
        positive = positive_class(classes)
        negative = next(c for c in classes if c != positive)
        high = (rank > 0.5) ^ (rng.random(len(out)) < 0.1)
        label = np.where(high, positive, negative)
    else:
        bins = np.minimum((rank * len(classes)).astype(int), len(classes) - 1)
        label = np.asarray(classes, dtype=object)[bins]
    out[spec.target] = out[spec.target].astype(object)
    out.loc[segment, spec.target] = label[segment]
    out[spec.target] = out[spec.target].astype(frame[spec.target].dtype)
    return out


def changed_rule(frame: pd.DataFrame, spec: ProblemSpec, rng: np.random.Generator, share: float):
    """A new scheme inside an existing segment: high values of one feature now mean a new outcome.

    Binary: those rows become the positive class (80% of them), on top of the old rule.
    Multiclass: they move to the rarest class. The original holdout still shows the old rule
    for that segment, so a model that learns the new one loses there.
    """
    out = frame.copy()
    segment = segment_of(frame, spec, share)
    rank = _rank(out, spec)
    hit = segment & (rank > 0.6) & (rng.random(len(out)) < 0.8)
    classes = frame[spec.target].value_counts()
    target = positive_class(classes.index.tolist()) if len(classes) == 2 else classes.index[-1]
    out[spec.target] = out[spec.target].astype(object)
    out.loc[hit, spec.target] = target
    out[spec.target] = out[spec.target].astype(frame[spec.target].dtype)
    return out


def covariate_shift(frame: pd.DataFrame, spec: ProblemSpec, rng: np.random.Generator, rows: int):
    """Rows drawn with a preference for high values of one feature: x moves, P(y|x) does not."""
    driver = _widest_numeric(frame, spec)
    rank = frame[driver].rank(pct=True, method="first").to_numpy()
    weight = np.exp(3.0 * rank)
    size = min(rows, len(frame))
    pick = rng.choice(len(frame), size=size, replace=False, p=weight / weight.sum())
    return frame.iloc[np.sort(pick)].reset_index(drop=True)


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
