"""The `mara` group: its global options and what every command shares (the project home)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

import click

DEFAULT_HOME = Path(".")


class App:
    """What every command shares: the project home."""

    def __init__(self, home: Path):
        self.home = home


@click.group()
@click.option(
    "--home",
    envvar="MARA_HOME",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_HOME,
    show_default=True,
    help="Project directory holding data/, mlflow.db and mlartifacts/ [env var: MARA_HOME]",
)
@click.option("-v", "--verbose", is_flag=True, help="Log at DEBUG level.")
@click.version_option(package_name="mara")
@click.pass_context
def cli(ctx: click.Context, home: Path, verbose: bool) -> None:
    """mara: train, version, serve, watch and improve tabular classification models."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # MLflow sets its own level on import; its env var is the way to quiet its warnings about
    # pickled pyfunc models and unresolved pip versions, which say nothing to a mara user.
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "ERROR")
    for noisy in ("httpx", "httpcore", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    ctx.obj = App(home)


def problem_options(command: Callable[..., None]) -> Callable[..., None]:
    """--phase and --prob, both required: the problem a command works on."""
    command = click.option("--prob", required=True)(command)
    return click.option("--phase", required=True)(command)
