"""The search: cross-validated boosting runs that choose the forest's shape and its rounds.

Every candidate is boosted on k folds of the given rows at once (`lightgbm.cv`) until its
mean validation score stops improving; that best iteration is its number of rounds. A few
shapes are tried at a fast learning rate, then the best at slower ones while the budget
lasts. Among candidates within noise of the best, the one with the fewest trees wins: each
tree costs latency on every request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
from sklearn.model_selection import StratifiedKFold, StratifiedShuffleSplit

from mara.train.budget import Budget
from mara.train.config import TrainConfig

__all__ = ["Search", "Trial", "cv_folds", "search"]

Progress = Callable[[str], None]

# Shapes tried at the fast learning rate: LightGBM's defaults, smaller, larger, and the most
# regularised.
_SHAPES: tuple[dict[str, Any], ...] = (
    {"num_leaves": 31, "min_data_in_leaf": 20, "lambda_l2": 0.0},
    {"num_leaves": 15, "min_data_in_leaf": 40, "lambda_l2": 1.0},
    {"num_leaves": 63, "min_data_in_leaf": 10, "lambda_l2": 1.0},
    {"num_leaves": 7, "min_data_in_leaf": 80, "lambda_l2": 5.0},
)
# Below this many rows overfitting is the risk: regularised shapes are tried first.
_SMALL = 5_000
# A binary problem whose rarer class is below this share also tries class weights.
_IMBALANCED = 0.2
# The slowest learning rate tried, as a fraction of the first.
_SLOWEST = 0.25


@dataclass(frozen=True)
class Trial:
    """One cross-validated candidate.

    `score` is higher-better: the mean validation AUC for binary problems, minus the mean
    multi-logloss for multiclass ones; `stderr` is its standard error over the folds.
    """

    params: dict[str, Any]
    rounds: int
    trees: int
    score: float
    stderr: float
    seconds: float
    cut_by_budget: bool

    def shown(self) -> str:
        """The score as the metric reads (AUC, or multi-logloss positive again)."""
        return f"{abs(self.score):.4f}"

    def label(self) -> str:
        """The candidate in a few words, for progress lines and logs."""
        p = self.params
        extra = ", class weights" if p.get("is_unbalance") else ""
        return (
            f"lr {p['learning_rate']:g}, {p['num_leaves']} leaves, min leaf "
            f"{p['min_data_in_leaf']}, l2 {p['lambda_l2']:g}{extra}"
        )


@dataclass
class Search:
    """Every trial run, the one chosen, and how the rows were folded."""

    metric: str
    folds: int
    trials: list[Trial] = field(default_factory=list)
    chosen: Trial | None = None
    rounds: int = 0
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        """Flat figures of the chosen candidate, for MLflow params."""
        assert self.chosen is not None
        return {
            **self.chosen.params,
            "rounds": self.rounds,
            "trees": self.rounds * self.chosen.trees // self.chosen.rounds,
            "cv_rounds": self.chosen.rounds,
            f"cv_{self.metric}": round(abs(self.chosen.score), 6),
            "cv_folds": self.folds,
            "candidates": len(self.trials),
            "search_seconds": round(self.seconds, 2),
        }


def cv_folds(y: np.ndarray, config: TrainConfig) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified folds of the given rows: `config.folds` on small tables (at most 3 above
    5,000 rows), one 80/20 split above `config.large_rows`.

    A large table's single validation fifth already scores a candidate steadily; more folds
    there would only multiply the time.
    """
    n = len(y)
    smallest = int(np.unique(y, return_counts=True)[1].min())
    index = np.zeros(n)
    if n > config.large_rows or smallest < 2:
        # A class seen once cannot be stratified: that split is a plain shuffle.
        labels = y if smallest >= 2 else np.zeros(n)
        splitter = StratifiedShuffleSplit(n_splits=1, test_size=0.2, random_state=config.seed)
        return [(np.sort(a), np.sort(b)) for a, b in splitter.split(index, labels)]
    k = max(2, min(config.folds if n <= _SMALL else 3, smallest))
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=config.seed)
    return [(np.sort(a), np.sort(b)) for a, b in splitter.split(index, y)]


def search(
    dataset: lgb.Dataset,
    folds: list[tuple[np.ndarray, np.ndarray]],
    base: dict[str, Any],
    *,
    n_rows: int,
    with_copies: bool,
    minority_share: float,
    config: TrainConfig,
    budget: Budget,
    progress: Progress | None = None,
) -> Search:
    """Try candidates on `folds` of `dataset` within `budget`; return them and the chosen one.

    `dataset` holds the `n_rows` given rows, then (`with_copies`) their masked copy at
    `n_rows + i`: a fold trains on its rows and their masked twins and is scored on its
    held-out rows and their twins, so a candidate is chosen for clean and dirty traffic.
    The first candidate always starts; every later one only if its estimated time fits in
    what is left. Any candidate is cut at the deadline and keeps its best round so far, so
    a small budget gives a smaller model, never a late one.
    """
    multiclass = base["objective"] == "multiclass"
    result = Search(metric="multi_logloss" if multiclass else "auc", folds=len(folds))
    lgb_folds = [
        (np.concatenate([fit, fit + n_rows]), np.concatenate([valid, valid + n_rows]))
        if with_copies
        else (fit, valid)
        for fit, valid in folds
    ]
    fast = config.learning_rate
    shapes = _SHAPES if n_rows > _SMALL else (_SHAPES[1], _SHAPES[3], _SHAPES[0], _SHAPES[2])

    def run(params: dict[str, Any]) -> Trial | None:
        if result.trials and _estimate(result.trials, params, config) > budget.remaining():
            return None
        trial = _cross_validate(dataset, lgb_folds, base | params, config, budget)
        result.trials.append(trial)
        if progress is not None:
            cut = " (cut at the deadline)" if trial.cut_by_budget else ""
            score = f"cv {result.metric} {trial.shown()}"
            progress(f"{trial.label()}: {trial.rounds} rounds{cut}, {score}")
        return trial

    for shape in shapes:
        run({"learning_rate": fast, **shape})
    best = max(result.trials, key=lambda t: t.score)
    if not multiclass and minority_share < _IMBALANCED:
        weighted = run(best.params | {"is_unbalance": True})
        if weighted is not None and weighted.score > best.score:
            best = weighted
    rate = fast / 2
    while rate >= fast * _SLOWEST:
        slower = run(best.params | {"learning_rate": rate})
        if slower is None or slower.score <= best.score:
            break
        best, rate = slower, rate / 2
    result.chosen = _cheapest_within_noise(result.trials)
    # The refit learns from every row, a fold from a share of them: more rows carry more
    # rounds before they overfit, in proportion (Trial.rounds stays as cross-validated).
    share = np.mean([len(fit) for fit, _ in folds]) / n_rows
    result.rounds = max(1, round(result.chosen.rounds / share))
    result.seconds = budget.elapsed()
    return result


def _cheapest_within_noise(trials: list[Trial]) -> Trial:
    """The fewest trees among candidates within a quarter standard error of the best score.

    With a single validation split there is no fold-to-fold spread: the best is taken.
    """
    best = max(trials, key=lambda t: t.score)
    ties = [t for t in trials if t.score >= best.score - 0.25 * best.stderr]
    return min(ties, key=lambda t: (t.trees, t.params["num_leaves"], -t.score))


def _estimate(trials: list[Trial], params: dict[str, Any], config: TrainConfig) -> float:
    """Expected time of a candidate, from the time per round of those already run.

    Halving the learning rate about doubles the rounds a candidate needs.
    """
    per_round = sum(t.seconds for t in trials) / sum(
        t.rounds + config.early_stopping for t in trials
    )
    best = max(trials, key=lambda t: t.score)
    rounds = best.rounds * best.params["learning_rate"] / params["learning_rate"]
    return per_round * (rounds + config.early_stopping)


def _cross_validate(
    dataset: lgb.Dataset,
    folds: list[tuple[np.ndarray, np.ndarray]],
    params: dict[str, Any],
    config: TrainConfig,
    budget: Budget,
) -> Trial:
    started = budget.clock()
    stop = _EarlyStop(config.early_stopping, budget)
    lgb.cv(
        params,
        dataset,
        num_boost_round=config.max_rounds,
        folds=folds,
        callbacks=[stop],
        eval_train_metric=False,
    )
    multiclass = params["objective"] == "multiclass"
    rounds = stop.best_iteration + 1
    return Trial(
        params={k: params[k] for k in _SEARCHED if k in params},
        rounds=rounds,
        trees=rounds * (params["num_class"] if multiclass else 1),
        score=-stop.best_mean if multiclass else stop.best_mean,
        stderr=stop.best_stdv / np.sqrt(len(folds)) if len(folds) > 1 else 0.0,
        seconds=budget.clock() - started,
        cut_by_budget=stop.cut,
    )


class _EarlyStop:
    """Stops a cross-validated run `patience` rounds after its best, or at the deadline.

    Either way the run keeps its best iteration so far, as `lightgbm.early_stopping` does.
    """

    order = 30

    def __init__(self, patience: int, budget: Budget):
        self.patience = patience
        self.budget = budget
        self.best_iteration = 0
        self.best_mean = float("nan")
        self.best_stdv = 0.0
        self.best_results: list = []
        self.cut = False

    def __call__(self, env: lgb.callback.CallbackEnv) -> None:
        _, _, mean, maximize, stdv = env.evaluation_result_list[0]
        improved = mean > self.best_mean if maximize else mean < self.best_mean
        if not self.best_results or improved:
            self.best_iteration, self.best_mean, self.best_stdv = env.iteration, mean, stdv
            self.best_results = list(env.evaluation_result_list)
        if env.iteration - self.best_iteration >= self.patience:
            raise lgb.callback.EarlyStopException(self.best_iteration, self.best_results)
        if self.budget.exhausted():
            self.cut = True
            raise lgb.callback.EarlyStopException(self.best_iteration, self.best_results)


_SEARCHED = ("learning_rate", "num_leaves", "min_data_in_leaf", "lambda_l2", "is_unbalance")
