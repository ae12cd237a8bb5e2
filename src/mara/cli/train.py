"""`mara train`: train, register and promote one problem or all of them."""

from __future__ import annotations

import click

from mara.cli.app import App


@click.command()
@click.option("--phase", help="With --prob: the problem to train.")
@click.option("--prob", help="With --phase: the problem to train.")
@click.option("--all", "train_all", is_flag=True, help="Train every problem under data/raw_data/.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--budget",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="CPU seconds the search of each problem may take; more tries more candidates "
    "[default: 15, less in proportion above 20,000 training rows].",
)
@click.option(
    "--learner",
    type=click.Choice(["lightgbm", "catboost", "blend"]),
    default=None,
    help="Force this learner (a blend fits both) [default: chosen by cross-validation].",
)
@click.option(
    "--compile/--no-compile",
    "compile_forest",
    default=True,
    show_default=True,
    help="Make the promoted forest fast now (servers then load it); else the first server "
    "to start compiles it before it reports ready.",
)
@click.pass_obj
def train(
    app: App,
    phase: str | None,
    prob: str | None,
    train_all: bool,
    seed: int,
    budget: float | None,
    learner: str | None,
    compile_forest: bool,
) -> None:
    """Train, log to MLflow, register `<phase>_<prob>`, promote if no worse than champion."""
    import time

    from rich.console import Console

    from mara.spec import find_problems
    from mara.train import TrainConfig, train_problem
    from mara.train.report import summary_table, train_progress

    if train_all == bool(phase and prob):
        raise click.UsageError("give either --phase and --prob, or --all")
    problems = find_problems(app.home) if train_all else [(phase, prob)]
    if not problems:
        raise click.UsageError(f"no problem under {app.home / 'data' / 'raw_data'}")
    options = {"budget": budget} if budget is not None else {}
    if learner is not None:
        options["learners"] = (learner,)
    config = TrainConfig(seed=seed, compile=compile_forest, **options)
    results = []
    with train_progress(Console(stderr=True), len(problems)) as shown:
        for problem_phase, problem_prob in problems:
            started = time.perf_counter()
            result = train_problem(
                app.home,
                problem_phase,
                problem_prob,
                config=config,
                progress=shown.problem(f"{problem_phase}/{problem_prob}"),
            )
            results.append((result, time.perf_counter() - started))
            shown.advance()
            click.echo(result.summary())
    Console(width=max(Console().width, 120)).print(summary_table(results))
