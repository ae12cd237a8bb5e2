"""`mara make-data`: a seeded synthetic problem in the organizers' layout."""

from __future__ import annotations

import click

from mara.cli.app import App, problem_options


@click.command("make-data")
@click.option("--kind", required=True, help="fraud, credit, network or network-multiclass")
@problem_options
@click.option("--rows", type=int, default=None, help="Rows in all (train + held out).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.pass_obj
def make_data(app: App, kind: str, phase: str, prob: str, rows: int | None, seed: int) -> None:
    """Write a seeded synthetic problem in the organizers' layout, with request files."""
    from mara.data import make_problem

    options = {"rows": rows} if rows else {}
    files = make_problem(app.home, kind, phase=phase, prob=prob, seed=seed, **options)
    click.echo(files.summary())
