"""TrainConfig: every setting of a training run, logged as MLflow parameters."""

from __future__ import annotations

from dataclasses import dataclass

from mara.drift import DEFAULT_ALPHA

__all__ = ["DEFAULT_BUDGET", "TrainConfig"]

# The search's default CPU seconds, up to `_FULL_BUDGET_ROWS` rows; above them the default
# shrinks in proportion: the refits, the drift reference and the rest of `mara train` grow
# with the rows, and the whole stays within 30 s up to 40,000 rows (docs/training.md).
DEFAULT_BUDGET = 15.0
_FULL_BUDGET_ROWS = 20_000


@dataclass(frozen=True)
class TrainConfig:
    """Training settings; every field is logged as an MLflow parameter."""

    seed: int = 0
    holdout: float = 0.2
    # CPU seconds the search of one problem may take (the refit on all rows comes after it):
    # candidates past the deadline are not started, or are cut at their best round so far.
    # LightGBM's search has half of it when CatBoost runs too; CatBoost what is left.
    # None: DEFAULT_BUDGET, less above 20,000 rows (`search_budget`).
    budget: float | None = None
    # The learners the recipe may choose from ("lightgbm", "catboost", "blend"), the default
    # first; one of them forces it (a blend fits both).
    learners: tuple[str, ...] = ("lightgbm", "catboost", "blend")
    # Cross-validation folds (3 above 5,000 rows); above `large_rows` one 80/20 split.
    folds: int = 5
    large_rows: int = 20_000
    # Reshuffled repeats of the folds on tables up to 1,000 rows.
    repeats: int = 3
    # Standard errors (fold by fold) by which a candidate must beat LightGBM's default
    # shape to replace it, and a best round LightGBM's default rounds.
    evidence: float = 1.0
    # The search's fast learning rate; slower ones are tried while the budget lasts.
    learning_rate: float = 0.1
    feature_fraction: float = 0.9
    bagging_fraction: float = 0.8
    max_rounds: int = 3000
    # Rounds without improvement of the mean validation score before a candidate stops.
    early_stopping: int = 40
    # One thread: on two shared cores a second one made cross-validation slower, not faster.
    threads: int = 1
    # Compile the promoted forest in training, where a person already waits: servers load it.
    compile: bool = True
    # Share of cells masked in an extra copy of the fit rows (benchmarks/dirty: 0.2 best).
    missing_augment: float = 0.2
    # Weight of a masked row, as a share of its original's.
    masked_weight: float = 0.5
    drift_alpha: float = DEFAULT_ALPHA

    def search_budget(self, rows: int) -> float:
        """The CPU seconds of search for `rows` rows: `budget` if set, else the default."""
        if self.budget is not None:
            return self.budget
        return DEFAULT_BUDGET * min(1.0, _FULL_BUDGET_ROWS / max(rows, 1))

    def __post_init__(self) -> None:
        known = ("lightgbm", "catboost", "blend")
        if not self.learners or any(name not in known for name in self.learners):
            raise ValueError(f"learners must be some of {known}, got {self.learners}")
