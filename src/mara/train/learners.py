"""Choosing the learner: LightGBM, CatBoost or their blend, by the folds and a row's cost.

Every learner is scored from its out-of-fold predictions on the same validation rows (each
fold's, or a single split's interleaved parts; masked twins included, at their weight): AUC
for a binary problem, accuracy for a multiclass one. The blend is the weighted mean of
LightGBM's and CatBoost's probabilities; its weight is the best of a grid on those
predictions.

The rule, as the search's for LightGBM's shapes: the default learner (LightGBM, or the first
one allowed) stays unless another beats it fold by fold by more than `evidence` standard
errors. Latency is part of it: a learner whose served form is slower than another's must beat
that one by as much too, so a slower choice wins by more than its noise or not at all (the
blend, slower than either part, must beat both). Among the learners that qualify, the best
scoring. A served form's cost is LightGBM's estimated from its trees (`served_ms`), and
CatBoost's measured on a fold model (its categorical columns' statistics cost more than its
trees), plus its refit's extra trees.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import roc_auc_score

from mara.train.search import gain_in_stderrs

__all__ = ["LEARNERS", "Scored", "blend", "choose_learner", "score_sets", "served_ms"]

# Every learner, in the order of preference at equal evidence: cheapest and default first.
LEARNERS = ("lightgbm", "catboost", "blend")
# The blend's weights on LightGBM tried (the ends are the learners alone).
_GRID = tuple(np.round(np.arange(0.1, 1.0, 0.1), 2))
# Milliseconds per 1,000 rows of a served form: a fixed cost per call, and one per tree.
# Measured on this project's 2 shared cores (benchmarks/train): lleaves-compiled LightGBM
# about 15 us per tree of 31 leaves; CatBoost's evaluator about 5 us per depth-6 tree
# and 0.2 ms to take in a batch (its FeaturesData).
_MS_FIXED = {"lightgbm": 0.02, "catboost": 0.2}
_MS_PER_TREE = {"lightgbm": 0.015, "catboost": 0.0052}


@dataclass(frozen=True)
class Scored:
    """A learner's out-of-fold predictions (one array per validation set), its score on each
    fold (or part), and its served form's estimated milliseconds per 1,000 rows."""

    learner: str
    predictions: tuple[np.ndarray, ...]
    fold_scores: tuple[float, ...]
    ms: float

    @property
    def score(self) -> float:
        """The mean of the fold scores."""
        return float(np.mean(self.fold_scores))


def served_ms(learner: str, trees: int, *, fixed: bool = True) -> float:
    """Estimated milliseconds per 1,000 rows of a LightGBM or CatBoost served form (without
    the cost of a call: `fixed=False`)."""
    return (_MS_FIXED[learner] if fixed else 0.0) + _MS_PER_TREE[learner] * trees


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
        mixed = Scored("blend", predictions, scores, lightgbm.ms + catboost.ms)
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

    def qualifies(c: Scored) -> bool:
        rivals = [o for o in candidates if o is not c and (o is default or o.ms < c.ms)]
        return all(gain(c, o) > evidence for o in rivals)

    proven = [c for c in candidates[1:] if qualifies(c)]
    if not proven:
        if len(candidates) == 1:
            return default, f"{default.learner} was the only learner allowed"
        return default, (
            f"kept {default.learner}: no other learner beat it, and every faster one, fold "
            f"by fold by more than {evidence:g} standard errors"
        )
    chosen = max(proven, key=lambda c: c.score)
    beaten = ", ".join(
        f"{o.learner} by {gain(chosen, o):.1f}" for o in candidates if o is not chosen
    )
    return chosen, (
        f"{chosen.learner} beat {beaten} standard errors fold by fold (evidence "
        f"{evidence:g}); about {chosen.ms:.2f} ms per 1,000 rows against "
        f"{default.ms:.2f} for {default.learner}"
    )


def _score(y: np.ndarray, proba: np.ndarray, w: np.ndarray) -> float:
    """Weighted AUC (binary) or accuracy (multiclass), as the search's metrics."""
    if proba.ndim == 2:
        return float(np.average(proba.argmax(axis=1) == y, weights=w))
    return float(roc_auc_score(y, proba, sample_weight=w))
