"""`mara promote`, `rollback` and `history`: the champion alias by hand."""

from __future__ import annotations

import click

from mara.cli.app import App, problem_options
from mara.home import Problem


@click.command()
@problem_options
@click.option("--version", "version", required=True, help="The registered version to serve.")
@click.option("--reason", default="promoted by hand", show_default=True)
@click.pass_obj
def promote(app: App, phase: str, prob: str, version: str, reason: str) -> None:
    """Make a registered version the champion (a running server swaps it in)."""
    from mara.registry import Registry

    registry = Registry(app.home)
    name = Problem(phase, prob).name
    known = registry.versions(name)
    if version not in known:
        raise click.UsageError(f"{name} has no version {version} (versions: {', '.join(known)})")
    before = registry.champion_version(name)
    registry.promote(name, version, by="promote", reason=reason)
    click.echo(f"{name}: champion v{before or '-'} -> v{version}")


@click.command()
@problem_options
@click.pass_obj
def rollback(app: App, phase: str, prob: str) -> None:
    """Bring back the champion before the current one, from the alias history."""
    from mara.registry import Registry

    name = Problem(phase, prob).name
    current, target = Registry(app.home).rollback(name)
    if target is None:
        raise click.UsageError(f"{name}: no earlier champion in the alias history")
    click.echo(f"{name}: champion v{current} -> v{target} (rolled back)")


@click.command()
@problem_options
@click.pass_obj
def history(app: App, phase: str, prob: str) -> None:
    """Every move of the champion and challenger aliases: when, from, to, by what, why."""
    from mara.registry import Registry

    name = Problem(phase, prob).name
    moves = Registry(app.home).alias_history(name)
    if not moves:
        click.echo(f"{name}: no alias moves recorded")
    for move in moves:
        click.echo(move.line())
