"""Choosing the learner: LightGBM, CatBoost or their blend, by the folds and a request's cost.

Every learner is scored from its out-of-fold predictions on the same validation rows (each
fold's, or a single split's interleaved parts; masked twins included, at their weight): AUC
for a binary problem, accuracy for a multiclass one. The blend is the weighted mean of
LightGBM's and CatBoost's probabilities; its weight is the best of a grid on those
predictions.

The rule, as the search's for LightGBM's shapes: the default learner (LightGBM, or the first
one allowed) stays unless another beats it fold by fold by more than `evidence` standard
errors. Latency is part of it, weighed by what a served request costs in all: a learner that
makes a request slower than another learner does (at 1 row or at 1,000 rows) must beat that
one too, by `evidence` standard errors plus `SE_PER_DOUBLING` for each doubling of the
request's time it brings (in quarter steps, so timing noise does not change the model). A
request's time is the rest of the request (`REQUEST_MS`: parsing, the matrix, the drift
flags; benchmarks/serve/stages.md) plus the forest's served form (`Cost`): LightGBM
compiled, estimated from its trees (`lightgbm_cost`); CatBoost's evaluator, measured on a
fold model at 1 and 1,000 rows (CPU time, one thread: its per-call cost and its
categorical columns' statistics are not in its tree count); a blend, both. Among the
learners that qualify, the best scoring.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import roc_auc_score

from mara.train.search import gain_in_stderrs

__all__ = [
    "LEARNERS",
    "REQUEST_MS",
    "Cost",
    "Scored",
    "blend",
    "choose_learner",
    "cost_entries",
    "lightgbm_cost",
    "recipe_cost",
    "score_sets",
    "slowdown",
]

# Every learner, in the order of preference at equal evidence: cheapest and default first.
LEARNERS = ("lightgbm", "catboost", "blend")
# The blend's weights on LightGBM tried (the ends are the learners alone).
_GRID = tuple(np.round(np.arange(0.1, 1.0, 0.1), 2))
# What a served request costs besides its forest, in milliseconds at 1 row and at 1,000 rows:
# parsing, the matrix and the drift flags, before the answer is sent (in process, the
# network problem, benchmarks/serve/stages.md: 1.48 and 9.15 ms with the forest's 0.11 and
# 1.61 taken out).
REQUEST_MS = (1.4, 7.5)
# Standard errors a learner must win by, on top of the evidence, for each doubling of a
# request's time it brings: one that makes requests twice as slow must win by twice the
# noise (at evidence 1), one that adds a fifth by a quarter more.
SE_PER_DOUBLING = 1.0
# The extra evidence goes in steps of this many standard errors: CatBoost's cost is measured,
# and a few percent of timing noise must not make the same rows give another model.
_STEP = 0.25
# lleaves-compiled LightGBM as served (benchmarks/train/served.md): a call's fixed cost in
# milliseconds, and a tree's per 1,000 rows.
_LIGHTGBM_CALL_MS = 0.02
_LIGHTGBM_TREE_MS = 0.008
# The recipe's keys of the chosen learner's cost.
_ONE_ROW, _THOUSAND_ROWS = "served_ms_1_row", "served_ms_per_1000_rows"


@dataclass(frozen=True)
class Cost:
    """A served form's milliseconds for a 1-row call and for a 1,000-row call."""

    one: float
    thousand: float

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.one + other.one, self.thousand + other.thousand)

    def at(self, rows: np.ndarray | float) -> np.ndarray | float:
        """Milliseconds for a call of `rows` rows: linear between the two measured sizes."""
        return self.one + (self.thousand - self.one) * (np.asarray(rows, dtype=float) - 1) / 999


def lightgbm_cost(trees: int) -> Cost:
    """Compiled LightGBM's estimated cost: a call's, and each tree's for each row."""
    per_row = _LIGHTGBM_TREE_MS / 1000 * trees
    return Cost(_LIGHTGBM_CALL_MS + per_row, _LIGHTGBM_CALL_MS + 1000 * per_row)


def cost_entries(cost: Cost) -> dict[str, float]:
    """The chosen learner's cost as `bundle.recipe` records it (`recipe_cost` reads it)."""
    return {_ONE_ROW: round(cost.one, 4), _THOUSAND_ROWS: round(cost.thousand, 3)}


def recipe_cost(recipe: dict) -> Cost | None:
    """The chosen learner's cost as its recipe recorded it (None for a model trained before
    the recipe recorded one)."""
    try:
        return Cost(float(recipe[_ONE_ROW]), float(recipe[_THOUSAND_ROWS]))
    except (KeyError, TypeError, ValueError):
        return None


def slowdown(a: Cost, b: Cost) -> float:
    """How many times as long a served request takes with `a`'s forest as with `b`'s, at the
    size (1 or 1,000 rows) where `a` is the furthest behind."""
    one = (REQUEST_MS[0] + a.one) / (REQUEST_MS[0] + b.one)
    thousand = (REQUEST_MS[1] + a.thousand) / (REQUEST_MS[1] + b.thousand)
    return max(one, thousand)


@dataclass(frozen=True)
class Scored:
    """A learner's out-of-fold predictions (one array per validation set), its score on each
    fold (or part), and its served form's cost."""

    learner: str
    predictions: tuple[np.ndarray, ...]
    fold_scores: tuple[float, ...]
    cost: Cost

    @property
    def score(self) -> float:
        """The mean of the fold scores."""
        return float(np.mean(self.fold_scores))


def score_sets(
    predictions: list[np.ndarray] | tuple[np.ndarray, ...],
    validations: list[tuple[np.ndarray, np.ndarray]],
    targets: np.ndarray,
    weights: np.ndarray,
    *,
    parts: int,
) -> tuple[float, ...]:
    """Each validation set's score, or (`parts` > 1, one validation split) each of its
    interleaved parts' score, as the search scores them."""
    scores = []
    for proba, (_, valid) in zip(predictions, validations, strict=True):
        slices = [slice(i, None, parts) for i in range(parts)] if parts > 1 else [slice(None)]
        for part in slices:
            rows = valid[part]
            scores.append(_score(targets[rows], proba[part], weights[rows]))
    return tuple(scores)


def blend(
    lightgbm: Scored,
    catboost: Scored,
    validations: list[tuple[np.ndarray, np.ndarray]],
    targets: np.ndarray,
    weights: np.ndarray,
    *,
    parts: int,
) -> tuple[Scored, float]:
    """The blend at its best weight on LightGBM (from a grid), and that weight."""
    best: tuple[Scored, float] | None = None
    for weight in _GRID:
        predictions = tuple(
            weight * a + (1 - weight) * b
            for a, b in zip(lightgbm.predictions, catboost.predictions, strict=True)
        )
        scores = score_sets(predictions, validations, targets, weights, parts=parts)
        mixed = Scored("blend", predictions, scores, lightgbm.cost + catboost.cost)
        if best is None or mixed.score > best[0].score:
            best = (mixed, float(weight))
    assert best is not None
    return best


def choose_learner(
    candidates: list[Scored], per_split: int, *, evidence: float
) -> tuple[Scored, str]:
    """The learner to refit, and why, by the rule in the module's docstring.

    `candidates` come in order of preference, the default first.
    """
    default = candidates[0]

    def gain(a: Scored, b: Scored) -> float:
        return gain_in_stderrs(list(a.fold_scores), list(b.fold_scores), per_split)

    def needed(a: Scored, b: Scored) -> float:
        extra = SE_PER_DOUBLING * math.log2(max(1.0, slowdown(a.cost, b.cost)))
        return evidence + _STEP * round(extra / _STEP)

    def rivals(c: Scored) -> list[Scored]:
        """The default, and every learner that serves a request faster than `c`."""
        return [
            o for o in candidates if o is not c and (o is default or slowdown(c.cost, o.cost) > 1)
        ]

    def margin(c: Scored) -> tuple[float, Scored]:
        """By how many standard errors `c` clears its hardest rival, and which it is."""
        return min(((gain(c, o) - needed(c, o), o) for o in rivals(c)), key=lambda m: m[0])

    if len(candidates) == 1:
        return default, f"{default.learner} was the only learner allowed"
    proven = [c for c in candidates[1:] if margin(c)[0] > 0]
    if not proven:
        short = "; ".join(
            f"{c.learner} won {gain(c, o):.1f} of the {needed(c, o):.1f} needed over {o.learner}"
            for c in candidates[1:]
            for o in [margin(c)[1]]
        )
        return default, f"kept {default.learner}: standard errors fold by fold, {short}"
    chosen = max(proven, key=lambda c: c.score)
    beaten = ", ".join(
        f"{o.learner} by {gain(chosen, o):.1f} (needed {needed(chosen, o):.1f})"
        for o in rivals(chosen)
    )
    return chosen, (
        f"{chosen.learner} beat {beaten} standard errors fold by fold; served in about "
        f"{chosen.cost.one:.3f} ms a row and {chosen.cost.thousand:.2f} ms per 1,000 rows, "
        f"against {default.cost.one:.3f} and {default.cost.thousand:.2f} for {default.learner}"
    )


def _score(y: np.ndarray, proba: np.ndarray, w: np.ndarray) -> float:
    """Weighted AUC (binary) or accuracy (multiclass), as the search's metrics."""
    if proba.ndim == 2:
        return float(np.average(proba.argmax(axis=1) == y, weights=w))
    return float(roc_auc_score(y, proba, sample_weight=w))
