"""The search: cross-validated boosting runs that choose the forest's shape and its rounds.

Every candidate is boosted on k folds of the given rows at once (`lightgbm.cv`) until its
mean validation score stops improving; that best iteration is its number of rounds. The
first candidate is LightGBM's default shape; a few others are tried at the same learning
rate, then the best at slower ones while the budget lasts. Another candidate replaces the
default only when it beats it fold by fold by more than the folds' noise; among candidates
within noise of the chosen one, the one with the fewest trees wins: each tree costs latency
on every request. A large table has one validation split, scored in interleaved parts that
stand in for folds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
from sklearn.model_selection import RepeatedStratifiedKFold, StratifiedShuffleSplit

from mara.train.budget import Budget
from mara.train.config import TrainConfig

__all__ = [
    "DEFAULT_ROUNDS",
    "DEFAULT_SHAPE",
    "PARTS",
    "Search",
    "Trial",
    "choose",
    "cv_folds",
    "fit_share",
    "gain_in_stderrs",
    "out_of_fold",
    "search",
    "split_size",
    "validation_sets",
]

Progress = Callable[[str], None]

# LightGBM's default shape, without row or column sampling: the first candidate, and the one
# kept unless another beats it with evidence.
DEFAULT_SHAPE: dict[str, Any] = {
    "num_leaves": 31,
    "min_data_in_leaf": 20,
    "lambda_l2": 0.0,
    "feature_fraction": 1.0,
    "bagging_fraction": 1.0,
}
# LightGBM's default number of rounds (at its default learning rate): the fewest a candidate
# that the deadline cut before it converged is refitted with.
DEFAULT_ROUNDS = 100
# Shapes tried after it at the fast learning rate, sampling rows and columns: smaller,
# larger, and the most regularised (on small tables regularised first).
_SHAPES: tuple[dict[str, Any], ...] = (
    {"num_leaves": 15, "min_data_in_leaf": 40, "lambda_l2": 1.0},
    {"num_leaves": 63, "min_data_in_leaf": 10, "lambda_l2": 1.0},
    {"num_leaves": 7, "min_data_in_leaf": 80, "lambda_l2": 5.0},
)
# Below this many rows overfitting is the risk: regularised shapes are tried first.
_SMALL = 5_000
# Up to this many rows a fold validates a couple of hundred rows, too few to score a
# candidate steadily: the folds are drawn again, reshuffled.
_TINY = 1_000
# A binary problem whose rarer class is below this share also tries class weights.
_IMBALANCED = 0.2
# The slowest learning rate tried, as a fraction of the first.
_SLOWEST = 0.25
# LightGBM's default learning rate, at which DEFAULT_ROUNDS are its default.
_DEFAULT_RATE = 0.1
# A single validation split is scored in this many interleaved parts, so candidates and
# rounds are compared by the noise of their scores there too.
PARTS = 5


@dataclass(frozen=True)
class Trial:
    """One cross-validated candidate.

    `score` is the mean validation AUC for binary problems, accuracy for multiclass ones
    (what mara's holdout judges a model by); `fold_scores` are the same per fold, at the
    candidate's best round.
    """

    params: dict[str, Any]
    rounds: int
    trees: int
    score: float
    fold_scores: tuple[float, ...]
    seconds: float
    cut_by_budget: bool
    # The rounds are LightGBM's default (for this learning rate): the best round did not beat
    # them by more than the folds' noise.
    default_rounds: bool = False
    # The fold models (one per fold, or the one model of a single split), for out-of-fold
    # predictions.
    models: tuple[lgb.Booster, ...] = field(default=(), compare=False, repr=False)

    def label(self) -> str:
        """The candidate in a few words, for progress lines and logs."""
        p = self.params
        extra = ", class weights" if p.get("is_unbalance") else ""
        sampled = ", sampled" if p.get("bagging_fraction", 1.0) < 1.0 else ""
        return (
            f"lr {p['learning_rate']:g}, {p['num_leaves']} leaves, min leaf "
            f"{p['min_data_in_leaf']}, l2 {p['lambda_l2']:g}{sampled}{extra}"
        )


@dataclass
class Search:
    """Every trial run, the one chosen, and how the rows were folded.

    `folds` counts every fold; `repeats` how many reshuffled k-fold splits they make up.
    """

    metric: str
    folds: int
    repeats: int = 1
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
            f"cv_{self.metric}": round(self.chosen.score, 6),
            "cv_folds": self.folds,
            "cv_repeats": self.repeats,
            "candidates": len(self.trials),
            "default_kept": self.chosen is self.trials[0],
            "default_rounds": self.chosen.default_rounds,
            "search_seconds": round(self.seconds, 2),
        }


def cv_folds(y: np.ndarray, config: TrainConfig) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified folds of the given rows: `config.folds` on small tables (at most 3 above
    5,000 rows), one 80/20 split above `config.large_rows`.

    Up to 1,000 rows the k folds are drawn `config.repeats` times, reshuffled: a couple of
    hundred validation rows score a candidate noisily, and every repeat validates each row
    again. A large table's single validation fifth already scores a candidate steadily (the
    search scores it in parts to know how steadily); more folds would only multiply the time.
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
    repeats = config.repeats if n <= _TINY else 1
    splitter = RepeatedStratifiedKFold(n_splits=k, n_repeats=repeats, random_state=config.seed)
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
    The first candidate (LightGBM's default shape) always starts; every later one only if
    its estimated time fits in what is left. Any candidate is cut at the deadline and keeps
    its best round so far, so a small budget gives a smaller model, never a late one.
    """
    multiclass = base["objective"] == "multiclass"
    per_split = split_size(folds, n_rows)
    result = Search(
        metric="accuracy" if multiclass else "auc",
        folds=len(folds),
        repeats=max(1, len(folds) // per_split),
    )
    lgb_folds = validation_sets(folds, n_rows, with_copies=with_copies)
    fast = config.learning_rate
    shapes = _SHAPES if n_rows > _SMALL else (_SHAPES[0], _SHAPES[2], _SHAPES[1])

    def run(params: dict[str, Any]) -> Trial | None:
        if result.trials and _estimate(result.trials, params, config) > budget.remaining():
            return None
        trial = _cross_validate(dataset, lgb_folds, base | params, config, budget, per_split)
        result.trials.append(trial)
        if progress is not None:
            cut = " (cut at the deadline)" if trial.cut_by_budget else ""
            score = f"cv {result.metric} {trial.score:.4f}"
            progress(f"{trial.label()}: {trial.rounds} rounds{cut}, {score}")
        return trial

    run({"learning_rate": _DEFAULT_RATE, **DEFAULT_SHAPE})
    for shape in shapes:
        run({"learning_rate": fast, **shape})
    best = max(result.trials, key=lambda t: t.score)
    if not multiclass and minority_share < _IMBALANCED:
        weighted = run(best.params | {"is_unbalance": True})
        if weighted is not None and weighted.score > best.score:
            best = weighted
    rate = best.params["learning_rate"] / 2
    while rate >= fast * _SLOWEST:
        slower = run(best.params | {"learning_rate": rate})
        if slower is None or slower.score <= best.score:
            break
        best, rate = slower, rate / 2
    result.chosen = choose(result.trials, per_split, evidence=config.evidence)
    result.rounds = _refit_rounds(result.chosen, folds, n_rows)
    result.seconds = budget.elapsed()
    return result


def validation_sets(
    folds: list[tuple[np.ndarray, np.ndarray]], n_rows: int, *, with_copies: bool
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The folds as rows of the fit matrix: a fold's rows, then (`with_copies`) their masked
    twins at `n_rows + i`, to fit on and to validate on."""
    if not with_copies:
        return folds
    return [
        (np.concatenate([fit, fit + n_rows]), np.concatenate([valid, valid + n_rows]))
        for fit, valid in folds
    ]


def split_size(folds: list[tuple[np.ndarray, np.ndarray]], n_rows: int) -> int:
    """Scores in one k-fold split: its folds, or the parts a single validation split is
    scored in (what a standard error is taken over, see `gain_in_stderrs`)."""
    return PARTS if len(folds) == 1 else _folds_per_split(folds, n_rows)


def fit_share(folds: list[tuple[np.ndarray, np.ndarray]], n_rows: int) -> float:
    """The share of the rows a fold fits on: a refit on every row carries more rounds, in
    proportion, before it overfits."""
    return float(np.mean([len(fit) for fit, _ in folds]) / n_rows)


def out_of_fold(
    trial: Trial, rows: np.ndarray, validations: list[tuple[np.ndarray, np.ndarray]]
) -> list[np.ndarray]:
    """The trial's fold models' predictions on their validation rows, at its rounds."""
    return [
        model.predict(rows[valid], num_iteration=trial.rounds, num_threads=1)
        for model, (_, valid) in zip(trial.models, validations, strict=True)
    ]


def choose(trials: list[Trial], per_split: int, *, evidence: float) -> Trial:
    """The candidate to refit: the first (LightGBM's default shape) unless others beat it.

    Only candidates whose fold-by-fold gain over the first is more than `evidence` standard
    errors may replace it, the best-scoring of them: the best of several noisy scores is the
    luckiest as much as the best, and the default has no luck to undo. Then, among
    candidates within a quarter standard error of the one chosen, the one with the fewest
    trees (then leaves) wins, and the chosen one at equal cost. `per_split` is the number of
    folds in one k-fold split (or parts of a single validation split).
    """
    first = trials[0]
    proven = [t for t in trials[1:] if gain_in_stderrs(t, first, per_split) > evidence]
    best = max(proven, key=lambda t: t.score, default=first)
    ties = [t for t in trials if t is best or gain_in_stderrs(best, t, per_split) <= 0.25]
    return min(ties, key=lambda t: (t.trees, t.params["num_leaves"], t is not best))


def gain_in_stderrs(a: Trial | list[float], b: Trial | list[float], per_split: int) -> float:
    """How many standard errors `a` scores above `b` (trials or their fold scores), paired
    fold by fold.

    Repeats of a k-fold split reuse the same rows, so the error is taken over k folds, not
    over every fold: the spread of the differences divided by the square root of k.
    """
    gains = np.subtract(*(t.fold_scores if isinstance(t, Trial) else t for t in (a, b)))
    mean = float(gains.mean())
    spread = float(gains.std(ddof=1)) if len(gains) > 1 else 0.0
    if spread == 0.0:
        return np.inf if mean > 0 else (-np.inf if mean < 0 else 0.0)
    return mean / (spread / np.sqrt(per_split))


def _folds_per_split(folds: list[tuple[np.ndarray, np.ndarray]], n_rows: int) -> int:
    """Folds in one k-fold split: the validation rows of a split add up to every row."""
    seen = 0
    for count, (_, valid) in enumerate(folds, start=1):
        seen += len(valid)
        if seen >= n_rows:
            return count
    return len(folds)


def _refit_rounds(chosen: Trial, folds: list[tuple[np.ndarray, np.ndarray]], n_rows: int) -> int:
    """Rounds for the refit on every row.

    The refit learns from every row, a fold from a share of them: more rows carry more
    rounds before they overfit, in proportion. A candidate cut at the deadline had not
    stopped improving: it gets at least LightGBM's default rounds (at its learning rate),
    never a forest cut short because the machine was slow. A candidate that kept the default
    rounds is refitted with them, as LightGBM's defaults would be.
    """
    if chosen.default_rounds:
        return chosen.rounds
    rounds = max(1, round(chosen.rounds / fit_share(folds, n_rows)))
    if chosen.cut_by_budget:
        rounds = max(rounds, _default_rounds(chosen.params["learning_rate"]))
    return rounds


def _default_rounds(rate: float) -> int:
    """LightGBM's default rounds, scaled to a learning rate: halving the rate doubles them."""
    return round(DEFAULT_ROUNDS * _DEFAULT_RATE / rate)


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
    per_split: int,
) -> Trial:
    """Boost every fold at once until the mean score stops improving; the rounds then kept.

    The rounds are those of the best mean score if it beats LightGBM's default rounds fold
    by fold by more than `config.evidence` standard errors, else the default rounds: on a
    flat curve the best round is the luckiest, as much as the best.
    """
    started = budget.clock()
    default = min(_default_rounds(params["learning_rate"]), config.max_rounds)
    stop = _EarlyStop(config.early_stopping, budget, at_least=default)
    if len(folds) == 1:
        # One split gives no fold-to-fold spread: its validation rows are scored in parts.
        fit, valid = folds[0]
        parts = [dataset.subset(np.sort(valid[i::PARTS])) for i in range(PARTS)]
        booster = lgb.train(
            params,
            dataset.subset(np.sort(fit)),
            num_boost_round=config.max_rounds,
            valid_sets=parts,
            valid_names=[f"part{i}" for i in range(PARTS)],
            callbacks=[stop],
        )
        models = (booster,)
    else:
        models = tuple(
            lgb.cv(
                params,
                dataset,
                num_boost_round=config.max_rounds,
                folds=folds,
                callbacks=[stop],
                eval_train_metric=False,
                return_cvbooster=True,
            )["cvbooster"].boosters
        )
    multiclass = params["objective"] == "multiclass"
    # Accuracy is one minus multi_error; AUC is a score already.
    score = (lambda error: 1.0 - error) if multiclass else (lambda auc: auc)
    rounds, mean, folds = stop.best_iteration + 1, stop.best_mean, stop.best_folds
    keep_default = (
        bool(stop.default_folds)
        and rounds != default
        and gain_in_stderrs(
            [score(v) for v in folds], [score(v) for v in stop.default_folds], per_split
        )
        <= config.evidence
    )
    if keep_default:
        rounds, mean, folds = default, stop.default_mean, stop.default_folds
    return Trial(
        params={k: params[k] for k in _SEARCHED if k in params},
        rounds=rounds,
        trees=rounds * (params["num_class"] if multiclass else 1),
        score=score(mean),
        fold_scores=tuple(score(v) for v in folds),
        seconds=budget.clock() - started,
        cut_by_budget=stop.cut,
        default_rounds=keep_default,
        models=models,
    )


class _EarlyStop:
    """Stops a cross-validated run `patience` rounds after its best, not before `at_least`
    rounds, or at the deadline.

    Either way the run keeps its best iteration so far, as `lightgbm.early_stopping` does,
    and each fold's score at it and at round `at_least`.
    """

    order = 30

    def __init__(self, patience: int, budget: Budget, *, at_least: int = 1):
        self.patience = patience
        self.budget = budget
        self.at_least = at_least
        self.best_iteration = 0
        self.best_mean = float("nan")
        self.best_folds: list[float] = []
        self.best_results: list = []
        self.default_mean = float("nan")
        self.default_folds: list[float] = []
        self.cut = False

    def __call__(self, env: lgb.callback.CallbackEnv) -> None:
        mean, maximize = _mean_score(env)
        improved = mean > self.best_mean if maximize else mean < self.best_mean
        if env.iteration + 1 == self.at_least:
            self.default_mean = mean
            self.default_folds = _fold_scores(env)
        if not self.best_results or improved:
            self.best_iteration, self.best_mean = env.iteration, mean
            self.best_results = list(env.evaluation_result_list)
            self.best_folds = _fold_scores(env)
        waited = env.iteration - self.best_iteration >= self.patience
        if waited and env.iteration + 1 >= self.at_least:
            raise lgb.callback.EarlyStopException(self.best_iteration, self.best_results)
        if self.budget.exhausted():
            self.cut = True
            raise lgb.callback.EarlyStopException(self.best_iteration, self.best_results)


def _mean_score(env: lgb.callback.CallbackEnv) -> tuple[float, bool]:
    """The mean validation score of this round (over folds or parts), and whether higher is
    better."""
    first = env.evaluation_result_list[0]
    if first[0] == "cv_agg":  # lightgbm.cv: the folds' mean
        return first[2], first[3]
    return float(np.mean([result[2] for result in env.evaluation_result_list])), first[3]


def _fold_scores(env: lgb.callback.CallbackEnv) -> list[float]:
    """Each fold's (or part's) score at this round.

    lightgbm.cv reports only the folds' mean and spread, so each fold's score is asked for;
    callers do so only when they need it (a new best round, the default round).
    """
    if env.evaluation_result_list[0][0] == "cv_agg":
        return [fold[0][2] for fold in env.model.eval_valid()]
    return [result[2] for result in env.evaluation_result_list]


_SEARCHED = (
    "learning_rate",
    "num_leaves",
    "min_data_in_leaf",
    "lambda_l2",
    "feature_fraction",
    "bagging_fraction",
    "is_unbalance",
)
