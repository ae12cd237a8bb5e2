"""The gate: is a challenger better than the champion on later traffic, with confidence?

Champion and challenger are scored on the same rows, and the difference of their metric is
bootstrapped with the pairing kept (each resample scores both models on the same rows), which
cancels the rows' shared difficulty and makes the interval much narrower than comparing two
separate intervals. Rows of one request are not independent (one client, one moment), so
traffic is resampled by request: `groups` names each row's request, and a resample draws
requests with replacement and keeps all of their rows (a row's weight is how often its
request was drawn).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from mara.labels import positive_class

__all__ = [
    "HOLDOUT_GUARD",
    "HOLDOUT_STALE",
    "GateDecision",
    "GateRule",
    "MetricDifference",
    "ScoreShift",
    "paired_bootstrap",
    "score_shift",
]


@dataclass(frozen=True)
class MetricDifference:
    """Challenger minus champion on one set of rows, with a bootstrap interval (`low`,
    `high`) and the one-sided lower bound at the same confidence (`floor`: the gain is
    above it with that confidence; None where not computed)."""

    metric: str
    champion: float
    challenger: float
    low: float
    high: float
    rows: int
    floor: float | None = None

    @property
    def difference(self) -> float:
        """Challenger minus champion, on all the rows."""
        return self.challenger - self.champion


@dataclass(frozen=True)
class ScoreShift:
    """One model's score on recent traffic minus its score on the original holdout, with an
    interval (the two sets resampled independently: they share no rows)."""

    metric: str
    holdout: float
    recent: float
    low: float
    high: float
    rows: int

    @property
    def difference(self) -> float:
        """Recent minus holdout."""
        return self.recent - self.holdout


def paired_bootstrap(
    champion: Sequence[Any],
    challenger: Sequence[Any],
    labels: Sequence[Any],
    classes: list[Any],
    *,
    groups: Sequence[Any] | None = None,
    strata: Sequence[Any] | None = None,
    weights: Sequence[float] | None = None,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> MetricDifference:
    """AUC (binary) or accuracy (multiclass) of both models, and the interval of the gain.

    `groups` (one key per row, e.g. the request id) makes the bootstrap draw whole groups;
    without it every row is its own group. `strata` (one key per row, e.g. the block of a
    forward chain, whose rows one fit predicted) makes the AUC the row-weighted mean of the
    AUCs within each stratum: scores of different fits are ranked only against each other's
    own rows, so a fit that predicts higher on a block that happens to hold more positives
    gains nothing (pooled, that alone lifted a challenger on shuffled labels). A resample
    holding one class only has no AUC; it is drawn again (stratified resampling would narrow
    the interval, plain redraws keep it honest). `weights` (one positive number per row)
    makes a row count that much in the metric, every resample included: accuracy is the
    weighted share of rows right, a stratum's AUC counts by its rows' weight (within a
    stratum the weights must be equal), as does a row in an unstratified AUC. ValueError
    when the rows themselves hold one class only.
    """
    truth = _Truth(labels, classes, strata, weights)
    a, b = truth.predictions(champion), truth.predictions(challenger)
    rng = np.random.default_rng(seed)
    diffs = _draw(
        lambda w: truth.metric(b, w) - truth.metric(a, w), truth.n, groups, resamples, rng
    )
    low, high = _interval(diffs, confidence)
    floor = float(np.quantile(diffs, 1 - confidence))
    return MetricDifference(truth.name, truth.point(a), truth.point(b), low, high, truth.n, floor)


def score_shift(
    recent: Sequence[Any],
    recent_labels: Sequence[Any],
    holdout: Sequence[Any],
    holdout_labels: Sequence[Any],
    classes: list[Any],
    *,
    groups: Sequence[Any] | None = None,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> ScoreShift:
    """How one model's score on recent traffic (resampled by `groups`) differs from its score
    on the holdout (resampled by row): the interval of the difference of independent draws."""
    on_recent, on_holdout = _Truth(recent_labels, classes), _Truth(holdout_labels, classes)
    r, h = on_recent.predictions(recent), on_holdout.predictions(holdout)
    rng = np.random.default_rng(seed)
    drawn_recent = _draw(lambda w: on_recent.metric(r, w), on_recent.n, groups, resamples, rng)
    drawn_holdout = _draw(lambda w: on_holdout.metric(h, w), on_holdout.n, None, resamples, rng)
    low, high = _interval(drawn_recent - drawn_holdout, confidence)
    return ScoreShift(
        on_recent.name, on_holdout.point(h), on_recent.point(r), low, high, on_recent.n
    )


class _Truth:
    """The labels of a set of rows, and the metric of predictions on them under row weights."""

    def __init__(
        self,
        labels: Sequence[Any],
        classes: list[Any],
        strata: Sequence[Any] | None = None,
        weights: Sequence[float] | None = None,
    ):
        self.n = len(labels)
        self.strata = None if strata is None else pd.factorize(np.asarray(strata, dtype=object))[0]
        if self.strata is not None and len(self.strata) != self.n:
            raise ValueError(f"{len(self.strata)} strata for {self.n} rows")
        self.weights = None if weights is None else np.asarray(weights, dtype=float)
        if self.weights is not None:
            if len(self.weights) != self.n:
                raise ValueError(f"{len(self.weights)} weights for {self.n} rows")
            if not (np.isfinite(self.weights).all() and (self.weights > 0).all()):
                raise ValueError("row weights must be positive and finite")
            if self.strata is not None and any(
                np.ptp(self.weights[self.strata == s]) > 0 for s in np.unique(self.strata)
            ):
                raise ValueError("row weights must be equal within a stratum")
        self.binary = len(classes) == 2
        if self.binary:
            positive = positive_class(classes)
            self.truth = np.asarray([label == positive for label in labels], dtype=bool)
            if self.truth.all() or not self.truth.any():
                raise ValueError("the rows hold one class only: AUC is undefined")
            self.name = "auc"
        else:
            self.truth = np.asarray([str(v) for v in labels])
            self.name = "accuracy"

    def predictions(self, predicted: Sequence[Any]) -> np.ndarray:
        """Scores (binary) or whether each row was right (multiclass), checked."""
        if not self.binary:
            return (np.asarray([str(v) for v in predicted]) == self.truth).astype(float)
        scores = np.asarray(predicted, dtype=float)
        if not np.isfinite(scores).all():
            raise ValueError("a model's scores hold a missing or non-finite value")
        return scores

    def point(self, predicted: np.ndarray) -> float:
        """The metric on all the rows, each once."""
        if self.binary and self.strata is None and self.weights is None:
            return float(roc_auc_score(self.truth, predicted))
        return float(self.metric(predicted, np.ones((1, self.n)))[0])

    def metric(self, predicted: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """The metric under each row of a (resamples, n) weight matrix (times the rows' own
        weights); NaN for a resample with one class only."""
        if self.weights is not None:
            weights = weights * self.weights
        if not self.binary:
            with np.errstate(divide="ignore", invalid="ignore"):
                return (weights @ predicted) / weights.sum(axis=1)
        if self.strata is None:
            return _weighted_auc(predicted, self.truth, weights)
        return _stratified_auc(predicted, self.truth, weights, self.strata)


def _stratified_auc(
    scores: np.ndarray, truth: np.ndarray, weights: np.ndarray, strata: np.ndarray
) -> np.ndarray:
    """The mean of the AUCs within each stratum, weighted by the stratum's rows under each
    weighting; a stratum of one class (no AUC) is left out, NaN when all are."""
    total = np.zeros(len(weights))
    mass = np.zeros(len(weights))
    for stratum in np.unique(strata):
        inside = strata == stratum
        auc = _weighted_auc(scores[inside], truth[inside], weights[:, inside])
        rows = weights[:, inside].sum(axis=1)
        known = np.isfinite(auc)
        total += np.where(known, auc * rows, 0.0)
        mass += np.where(known, rows, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(mass > 0, total / mass, np.nan)


def _weighted_auc(scores: np.ndarray, truth: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """AUC under each row of weights: the Mann-Whitney statistic, ties counted half."""
    order = np.argsort(scores, kind="stable")
    ordered = scores[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    w = weights[:, order]
    positive = truth[order]
    pos = np.add.reduceat(w * positive, starts, axis=1)  # weight per distinct score
    neg = np.add.reduceat(w * ~positive, starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg
    with np.errstate(divide="ignore", invalid="ignore"):
        return (pos * (below + 0.5 * neg)).sum(axis=1) / (pos.sum(axis=1) * neg.sum(axis=1))


# Rounds of redrawing resamples of one class before the rows are judged too lopsided.
_MAX_REDRAWS = 50


def _draw(
    statistic: Any,
    n: int,
    groups: Sequence[Any] | None,
    resamples: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """`statistic` of `resamples` bootstrap weightings of n rows (drawn by group); a NaN
    result (a resample of one class) is drawn again."""
    codes = np.arange(n) if groups is None else pd.factorize(np.asarray(groups, dtype=object))[0]
    if len(codes) != n:
        raise ValueError(f"{len(codes)} group keys for {n} rows")
    values: list[np.ndarray] = []
    found = 0
    for _ in range(_MAX_REDRAWS):
        if found >= resamples:
            break
        for weights in _weight_chunks(codes, resamples - found, rng):
            drawn = statistic(weights)
            drawn = drawn[np.isfinite(drawn)]
            values.append(drawn)
            found += len(drawn)
    if found < resamples:  # the rarer class is too rare for a two-class resample
        raise ValueError(f"{resamples} resamples with both classes could not be drawn")
    return np.concatenate(values)[:resamples]


def _weight_chunks(
    codes: np.ndarray, resamples: int, rng: np.random.Generator
) -> Iterator[np.ndarray]:
    """(chunk, n) matrices: how often each row's group was drawn, groups drawn with
    replacement as many times as there are groups."""
    n_groups = int(codes.max()) + 1 if len(codes) else 0
    # Bounded memory: at most about four million weights at a time.
    per_chunk = max(1, 4_000_000 // max(len(codes), n_groups, 1))
    for start in range(0, resamples, per_chunk):
        size = min(per_chunk, resamples - start)
        drawn = rng.integers(0, n_groups, (size, n_groups))
        flat = (drawn + np.arange(size)[:, None] * n_groups).ravel()
        counts = np.bincount(flat, minlength=size * n_groups).reshape(size, n_groups)
        yield counts[:, codes].astype(float)


def _interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = (1 - confidence) / 2
    low, high = np.quantile(values, [tail, 1 - tail])
    return float(low), float(high)


@dataclass(frozen=True)
class GateRule:
    """When a challenger replaces the champion.

    Promote when the lower bound of the gain on later traffic exceeds `min_gain`, unless the
    challenger is worse on the original holdout by more than `holdout_tolerance` with the
    same confidence (the upper bound of its holdout difference below -tolerance). Both sides
    read intervals: a point estimate on a few thousand holdout rows moves by more than the
    tolerance between two fits of the same recipe.

    The holdout guard holds only while the holdout still describes the traffic (`judge`):
    when the champion's own score on recent labelled traffic is below its holdout score with
    confidence (the upper bound of the shift below 0), the traffic has moved, and the gate
    judges on recent traffic alone, with a one-sided test: the gain's one-sided lower bound
    (`floor`) at the same confidence must exceed `min_gain`. While the champion holds its
    level, keeping it is the safe default and the two-sided interval's lower bound decides;
    once it has fallen on the traffic it serves, it has no such claim, and the question is
    only whether the challenger is better (H0: gain <= min_gain), which is what a one-sided
    test at that confidence answers.
    """

    min_gain: float = 0.0
    holdout_tolerance: float = 0.005

    def decide(
        self, recent: MetricDifference, holdout: MetricDifference, *, where: str = "recent"
    ) -> GateDecision:
        """The decision and the sentence that explains it (`where`: the later rows' name),
        with the holdout guard always on."""
        return self.judge(recent, holdout, None, where=where)

    def judge(
        self,
        gain: MetricDifference,
        holdout: MetricDifference,
        shift: ScoreShift | None,
        *,
        where: str = "forward-chained",
    ) -> GateDecision:
        """Gain on later traffic, the holdout guard unless `shift` shows the holdout stale
        (then the gain's one-sided bound decides)."""
        name = gain.metric
        said = (
            f"{where} {name} {gain.challenger:.4f} vs {gain.champion:.4f}, gain "
            f"{gain.difference:+.4f} [{gain.low:+.4f}, {gain.high:+.4f}] on {gain.rows} rows"
        )
        loss = (
            f"{holdout.difference:+.4f} [{holdout.low:+.4f}, {holdout.high:+.4f}] {name} on the "
            "original holdout"
        )
        stale = shift is not None and shift.high < 0
        rule = HOLDOUT_STALE if stale else HOLDOUT_GUARD
        bound, bound_name = gain.low, "the gain's lower bound"
        if stale and gain.floor is not None:
            bound, bound_name = gain.floor, "the gain's one-sided lower bound"
        if shift is not None:
            moved = (
                f"champion {name} {shift.recent:.4f} on recent traffic vs {shift.holdout:.4f} on "
                f"its holdout, {shift.difference:+.4f} [{shift.low:+.4f}, {shift.high:+.4f}]"
            )
            said = f"{said}; {moved}: " + (
                "the traffic has moved, the holdout guard is set aside and the gain's "
                f"one-sided lower bound decides ({bound:+.4f})"
                if stale
                else "the holdout still describes the traffic"
            )
        if bound <= self.min_gain:
            return GateDecision(
                False,
                f"{said}; {bound_name} is not above {self.min_gain:+.4f}",
                rule,
            )
        if not stale and holdout.high < -self.holdout_tolerance:
            return GateDecision(
                False,
                f"{said}; but {loss}: worse beyond the tolerance of {self.holdout_tolerance:.4f}",
                rule,
            )
        return GateDecision(True, f"{said}; {loss}", rule)


# The rule a decision applied: the holdout guard, or recent traffic alone.
HOLDOUT_GUARD = "holdout guard"
HOLDOUT_STALE = "holdout stale: recent traffic alone, one-sided"


@dataclass(frozen=True)
class GateDecision:
    """Whether to promote, why, and which rule decided."""

    promote: bool
    reason: str
    rule: str = HOLDOUT_GUARD
