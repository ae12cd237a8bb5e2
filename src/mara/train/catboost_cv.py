"""CatBoost cross-validated on the search's folds: its rounds, fold scores and out-of-fold
predictions, within what is left of the budget.

CatBoost runs with its defaults (depth 6, its automatic learning rate), on the same fit rows,
masked twins and validation rows as LightGBM's candidates. Its learning rate is the one
CatBoost picks for the number of rounds the budget affords: a short probe times a round, and
CatBoost's own rule (1,000 rounds by default) then chooses a larger rate for fewer rounds.
Each fold runs at least the fewest rounds, then stops a patience after its best round, or
at its share of the deadline; the rounds kept are the best of the folds' mean curve from
the fewest on. Both are LightGBM's search's, in units of learning (rounds times the rate):
at least LightGBM's default 100 rounds at 0.1, and a patience of `config.early_stopping`
rounds at `config.learning_rate`, so 333 and 133 rounds at CatBoost's 0.03. Counted in
rounds alone (40 patience, any best round) they stopped CatBoost's slow, noisy curves near
their start: on ohio, 18 to 36 rounds at rates of 0.016 to 0.025, where the refit on every
row had not yet begun to use the 537-level categorical that the fold models did (0.58 and
0.65 AUC on one split's test rows, against 0.75 in the folds and 0.70 now).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from catboost import CatBoostClassifier, Pool

from mara.forests.catboost import CatBoostForest, features_data
from mara.train.budget import Budget
from mara.train.config import TrainConfig
from mara.train.learners import Cost
from mara.train.search import DEFAULT_ROUNDS, fit_share

__all__ = ["CatBoostRun", "cross_validate", "refit"]

# CatBoost's default rounds: the most the search gives it.
DEFAULT_ITERATIONS = 1000
# Fewer rounds than this and CatBoost's rate would be too coarse: a tight budget cuts it.
_FEWEST = 100
# Rounds of the probe that times a round.
_PROBE = 10
# Calls timed to measure the served cost, of 1 row and of 1,000 rows.
_TIMINGS = {1: 20, 1000: 5}
# CatBoost's evaluator per depth-6 tree per 1,000 rows, in milliseconds (5.2 ms for 1,000
# trees, measured here): the refit's extra trees beyond the fold model's.
TREE_MS = 0.0052


@dataclass(frozen=True)
class CatBoostRun:
    """CatBoost across the folds: `rounds` at the best mean, each fold's predictions there."""

    params: dict[str, Any]
    rounds: int
    predictions: tuple[np.ndarray, ...]
    seconds: float
    cut_by_budget: bool
    # The fewest rounds at this rate: a run the deadline cut before them is refitted with them.
    fewest: int = 1
    # CPU milliseconds a fold model at `rounds` takes to predict 1 row and 1,000 rows with
    # its served form.
    cost: Cost = Cost(0.0, 0.0)

    def label(self) -> str:
        """CatBoost in a few words, for progress lines and logs."""
        return f"catboost, lr {self.params['learning_rate']:.3g}, depth {self.params['depth']}"


def cross_validate(
    rows: np.ndarray,
    targets: np.ndarray,
    weights: np.ndarray,
    validations: list[tuple[np.ndarray, np.ndarray]],
    *,
    n_numeric: int,
    n_classes: int,
    config: TrainConfig,
    budget: Budget,
) -> CatBoostRun:
    """Fit CatBoost on each of `validations` (fit rows, validation rows of `rows`) within
    `budget`; each fold gets an equal share of what is left."""
    started = budget.clock()
    pools = [
        tuple(_pool(rows, targets, weights, index, n_numeric) for index in fold)
        for fold in validations
    ]
    params = _params(n_classes, config)
    iterations = _affordable(pools[0][0], params, len(pools), budget)
    # The rate CatBoost chooses for these rounds (one round fitted to read it): every fold
    # and the refit use it, and the patience follows it.
    rate = params["learning_rate"] = _rate(pools[0][0], params, iterations)
    fewest = min(iterations, in_rounds(DEFAULT_ROUNDS, rate, config))
    metric = params["eval_metric"]
    models, cut = [], False
    for i, (fit_pool, valid_pool) in enumerate(pools):
        share = budget.remaining() / (len(pools) - i)
        stop = _Stop(
            metric,
            patience=in_rounds(config.early_stopping, rate, config),
            at_least=fewest,
            clock=budget.clock,
            deadline=budget.clock() + share,
        )
        model = CatBoostClassifier(**params, iterations=iterations)
        model.fit(fit_pool, eval_set=valid_pool, callbacks=[stop])
        models.append(model)
        cut = cut or stop.cut
    curves = [model.get_evals_result()["validation"][metric] for model in models]
    length = min(len(curve) for curve in curves)
    mean = np.mean([curve[:length] for curve in curves], axis=0)
    # From the fewest rounds on, if the deadline let every fold get there.
    start = fewest - 1 if length >= fewest else 0
    rounds = start + int(np.argmax(mean[start:])) + 1
    predictions = tuple(
        _probabilities(model.predict(valid, prediction_type="Probability", ntree_end=rounds))
        for model, (_, valid) in zip(models, pools, strict=True)
    )
    return CatBoostRun(
        params=params,
        rounds=rounds,
        predictions=predictions,
        seconds=budget.clock() - started,
        cut_by_budget=cut,
        fewest=fewest,
        cost=_served_cost(models[0], rows[validations[0][1]], rounds, n_numeric),
    )


def refit(
    run: CatBoostRun,
    rows: np.ndarray,
    targets: np.ndarray,
    weights: np.ndarray,
    *,
    n_numeric: int,
    n_rows: int,
    folds: list[tuple[np.ndarray, np.ndarray]],
) -> CatBoostForest:
    """CatBoost on every row, with the folds' rounds scaled to all the rows (as LightGBM's),
    and at least the fewest rounds at its rate."""
    rounds = refit_rounds(run, folds, n_rows)
    everything = np.arange(len(rows))
    model = CatBoostClassifier(**run.params, iterations=rounds)
    model.fit(_pool(rows, targets, weights, everything, n_numeric))
    return CatBoostForest(model, n_numeric)


def refit_rounds(run: CatBoostRun, folds: list[tuple[np.ndarray, np.ndarray]], n_rows: int) -> int:
    """The refit's rounds: the folds' scaled to every row, never fewer than the fewest."""
    return max(run.fewest, round(run.rounds / fit_share(folds, n_rows)))


def in_rounds(rounds: int, rate: float, config: TrainConfig) -> int:
    """LightGBM's `rounds` at the search's fast rate as rounds at `rate`: as much learning
    (rounds times the rate), never fewer rounds."""
    return max(rounds, round(rounds * config.learning_rate / rate))


def _params(n_classes: int, config: TrainConfig) -> dict[str, Any]:
    binary = n_classes == 2
    return {
        "loss_function": "Logloss" if binary else "MultiClass",
        "eval_metric": "AUC" if binary else "Accuracy",
        "class_names": list(range(n_classes)),
        "depth": 6,
        "thread_count": config.threads,
        "random_seed": config.seed,
        "use_best_model": False,
        "verbose": 0,
        # No catboost_info directory in the caller's working directory.
        "allow_writing_files": False,
    }


def _affordable(fit_pool: Pool, params: dict[str, Any], folds: int, budget: Budget) -> int:
    """Rounds every fold can run in what is left: CatBoost's default if they fit, fewer (and
    so a faster rate, as CatBoost chooses it) if not."""
    started = budget.clock()
    probe = CatBoostClassifier(**params, iterations=_PROBE)
    probe.fit(fit_pool)
    per_round = max(budget.clock() - started, 1e-9) / _PROBE
    affordable = int(budget.remaining() / folds / per_round)
    return max(_FEWEST, min(DEFAULT_ITERATIONS, affordable))


def _rate(fit_pool: Pool, params: dict[str, Any], iterations: int) -> float:
    """The learning rate CatBoost chooses for `iterations` rounds on these rows (its rule
    depends on both), read from a fit stopped after its first round."""
    model = CatBoostClassifier(**params, iterations=iterations)
    model.fit(fit_pool, callbacks=[_Rounds(1)])
    return float(model.get_all_params()["learning_rate"])


def _served_cost(model: CatBoostClassifier, rows: np.ndarray, rounds: int, n_numeric: int) -> Cost:
    """CPU milliseconds for 1 row and for 1,000 rows, as served: the matrix handed over, then
    predicted.

    Measured, not estimated from trees: a call costs about 0.1 ms before any tree, and each
    row's categorical columns' statistics more than its trees. CPU time, one thread, the best
    of a few calls: a busy machine stretches wall time, not this.
    """
    best = {}
    for size, calls in _TIMINGS.items():
        batch = np.resize(rows, (size, rows.shape[1]))
        best[size] = np.inf
        for _ in range(calls):
            started = time.process_time()
            model.predict(
                features_data(batch, n_numeric),
                prediction_type="Probability",
                ntree_end=rounds,
                thread_count=1,
            )
            best[size] = min(best[size], time.process_time() - started)
    return Cost(1000 * best[1], 1000 * best[1000])


def _pool(
    rows: np.ndarray, targets: np.ndarray, weights: np.ndarray, index: np.ndarray, n_numeric: int
) -> Pool:
    return Pool(features_data(rows[index], n_numeric), label=targets[index], weight=weights[index])


def _probabilities(proba: np.ndarray) -> np.ndarray:
    """The positive class's column for a binary problem, as every forest predicts."""
    return proba[:, 1] if proba.shape[1] == 2 else proba


class _Rounds:
    """A CatBoost callback that stops a fit after `rounds` rounds."""

    def __init__(self, rounds: int):
        self.rounds = rounds

    def after_iteration(self, info: Any) -> bool:
        return info.iteration < self.rounds


class _Stop:
    """A CatBoost callback that stops a fit `patience` rounds after its best validation
    `metric` (higher is better), not before `at_least` rounds, or at `deadline` on `clock`."""

    def __init__(self, metric: str, *, patience: int, at_least: int, clock: Any, deadline: float):
        self.metric = metric
        self.patience = patience
        self.at_least = at_least
        self.clock = clock
        self.deadline = deadline
        self.best, self.best_round = -np.inf, 0
        self.cut = False

    def after_iteration(self, info: Any) -> bool:
        score = info.metrics["validation"][self.metric][-1]
        if score > self.best:
            self.best, self.best_round = score, info.iteration
        waited = info.iteration - self.best_round >= self.patience
        if waited and info.iteration >= self.at_least:
            return False
        if self.clock() >= self.deadline:
            self.cut = True
            return False
        return True
