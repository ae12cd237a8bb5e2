"""`mara demo`: the whole job end to end, on four generated problems."""

from __future__ import annotations

import sys

import click

from mara.cli.app import App


@click.command()
@click.option(
    "--rows-scale",
    type=float,
    default=1.0,
    show_default=True,
    help="Scale the demo problems' sizes (smaller is faster).",
)
@click.option(
    "--keep-serving/--no-keep-serving",
    default=None,
    help="Leave the server and its dashboard running at the end, until Ctrl-C "
    "[default: when run in a terminal].",
)
@click.pass_obj
def demo(app: App, rows_scale: float, keep_serving: bool | None) -> None:
    """Generate, train and serve four problems; change their traffic; label, improve under
    traffic and roll back; estimate, flag drift, report."""
    from mara.demo import run_demo

    if keep_serving is None:
        keep_serving = sys.stdin.isatty() and sys.stdout.isatty()
    run_demo(app.home, rows_scale=rows_scale, keep_serving=keep_serving)
