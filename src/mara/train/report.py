"""What `mara train` shows while it works (rich progress) and when it is done (a summary)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from mara.train.trainer import TrainResult

__all__ = ["TrainProgress", "summary_table", "train_progress"]

_NOT_SCORES = ("cv_folds", "cv_repeats", "cv_rounds")


class TrainProgress:
    """One bar over the problems; its line shows the candidate the search last scored."""

    def __init__(self, progress: Progress, total: int):
        self._progress = progress
        self._task = progress.add_task("training", total=total)

    def problem(self, name: str) -> Callable[[str], None]:
        """The `progress` callback for one problem's training."""
        self._progress.update(self._task, description=f"{name}: cross-validating")

        def show(line: str) -> None:
            self._progress.update(self._task, description=f"{name}: {line}")

        return show

    def advance(self) -> None:
        """One more problem done."""
        self._progress.advance(self._task)


@contextmanager
def train_progress(console: Console, total: int) -> Iterator[TrainProgress]:
    """A live progress display on `console` for `total` problems."""
    columns = (
        SpinnerColumn(),
        TextColumn("{task.completed}/{task.total}"),
        BarColumn(bar_width=20),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        yield TrainProgress(progress, total)


def summary_table(results: list[tuple[TrainResult, float]]) -> Table:
    """One row per trained problem: score, chosen forest, time, champion decision."""
    table = Table(title="mara train")
    for column in ("problem", "version", "holdout", "trees", "chosen", "cv", "seconds", "champion"):
        table.add_column(column, justify="left" if column in ("problem", "chosen") else "right")
    for result, seconds in results:
        recipe = result.recipe
        metric = result.metric
        learners = [k for k in ("lightgbm", "catboost", "blend") if f"cv_{k}" in recipe]
        if learners:  # each learner's score on the same folds
            scores = [(k, recipe[f"cv_{k}"]) for k in learners]
        else:
            scores = [(k[3:], v) for k, v in recipe.items() if k.startswith("cv_")]
            scores = [(k, v) for k, v in scores if f"cv_{k}" not in _NOT_SCORES]
        cv = " ".join(f"{k} {v:.4f}" for k, v in scores) or "-"
        chosen = _chosen(recipe)
        table.add_row(
            result.spec.name,
            f"v{result.version}",
            f"{metric} {result.metrics[metric]:.4f}",
            f"{result.metrics.get('trees', float('nan')):.0f}",
            chosen,
            cv,
            f"{seconds:.1f}",
            "promoted" if result.promoted else f"kept v{result.champion_before}",
        )
    return table


def _chosen(recipe: dict) -> str:
    """The chosen forest in a few words."""
    if not recipe:
        return "-"
    learner = recipe.get("learner", "lightgbm")
    lightgbm = (
        f"lr {recipe['learning_rate']:g}, {recipe['num_leaves']} leaves, "
        f"{recipe['rounds']} rounds ({recipe['candidates']} tried)"
        if "num_leaves" in recipe
        else ""
    )
    catboost = f"catboost, {recipe.get('catboost_rounds')} rounds"
    if learner == "catboost":
        return catboost
    if learner == "blend":
        return f"blend {recipe['blend_weight']:g} of {lightgbm} + {catboost}"
    return lightgbm
