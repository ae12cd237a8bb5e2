"""The `mara` command: one thin function per stage, over the library."""

from __future__ import annotations

import logging
import os
import shutil
import sys
from pathlib import Path

import click

from mara.errors import MaraError

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


@cli.command("make-data")
@click.option("--kind", required=True, help="fraud, credit, network or network-multiclass")
@click.option("--phase", required=True)
@click.option("--prob", required=True)
@click.option("--rows", type=int, default=None, help="Rows in all (train + held out).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.pass_obj
def make_data(app: App, kind: str, phase: str, prob: str, rows: int | None, seed: int) -> None:
    """Write a seeded synthetic problem in the organizers' layout, with request files."""
    from mara.data import make_problem

    options = {"rows": rows} if rows else {}
    files = make_problem(app.home, kind, phase=phase, prob=prob, seed=seed, **options)
    click.echo(files.summary())


@cli.command()
@click.option("--phase", help="With --prob: the problem to train.")
@click.option("--prob", help="With --phase: the problem to train.")
@click.option("--all", "train_all", is_flag=True, help="Train every problem under data/raw_data/.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--no-compile",
    is_flag=True,
    help="Do not compile the forest now (the server then compiles it on start).",
)
@click.pass_obj
def train(
    app: App, phase: str | None, prob: str | None, train_all: bool, seed: int, no_compile: bool
) -> None:
    """Train, log to MLflow, register `<phase>_<prob>`, promote if no worse than champion."""
    from mara.spec import find_problems
    from mara.train import TrainConfig, train_problem

    if train_all == bool(phase and prob):
        raise click.UsageError("give either --phase and --prob, or --all")
    problems = find_problems(app.home) if train_all else [(phase, prob)]
    if not problems:
        raise click.UsageError(f"no problem under {app.home / 'data' / 'raw_data'}")
    config = TrainConfig(seed=seed, compile=not no_compile)
    for problem_phase, problem_prob in problems:
        result = train_problem(app.home, problem_phase, problem_prob, config=config)
        click.echo(result.summary())


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=5040, show_default=True)
@click.option("--workers", type=int, default=1, show_default=True)
@click.option(
    "--max-rows",
    type=int,
    default=100_000,
    show_default=True,
    help="Largest batch accepted; more rows get 413.",
)
@click.option("--no-capture", is_flag=True, help="Do not keep served batches on disk.")
@click.option(
    "--no-compile",
    is_flag=True,
    help="Serve with LightGBM's own predictor; do not compile forests.",
)
@click.option(
    "--follow",
    "follow_s",
    type=float,
    default=10.0,
    show_default=True,
    help="Seconds between checks for a moved champion alias, swapped in without downtime; "
    "0 serves the start-up champions only.",
)
@click.pass_obj
def serve(
    app: App,
    host: str,
    port: int,
    workers: int,
    max_rows: int,
    no_capture: bool,
    no_compile: bool,
    follow_s: float,
) -> None:
    """Serve the champion of every registered problem over HTTP."""
    import uvicorn

    os.environ["MARA_HOME"] = str(app.home.resolve())
    os.environ["MARA_MAX_ROWS"] = str(max_rows)
    os.environ["MARA_CAPTURE"] = "0" if no_capture else "1"
    os.environ["MARA_COMPILE"] = "0" if no_compile else "1"
    os.environ["MARA_FOLLOW_INTERVAL"] = str(follow_s)
    if workers > 1:
        # Workers are separate processes: Prometheus counters must be shared through files.
        metrics_dir = app.home.resolve() / ".prometheus"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    uvicorn.run(
        "mara.serve.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        timeout_graceful_shutdown=20,
    )


@cli.command()
@click.option("--url", required=True, help="Base URL of a running server.")
@click.option("--phase", required=True)
@click.option("--prob", required=True)
@click.option(
    "--requests",
    "requests_file",
    required=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="JSONL of request bodies, optionally with 'labels'.",
)
@click.option("--concurrency", type=int, default=1, show_default=True)
@click.option("--repeat", type=int, default=1, show_default=True)
@click.option("--limit", type=int, default=None, help="Use only the first N requests.")
def bench(
    url: str,
    phase: str,
    prob: str,
    requests_file: Path,
    concurrency: int,
    repeat: int,
    limit: int | None,
) -> None:
    """Replay request batches against a server, check every answer, report latency and score."""
    from rich.console import Console

    from mara.bench import load_requests, render, run_bench

    requests = load_requests(requests_file, limit=limit)
    result = run_bench(url, phase, prob, requests, concurrency=concurrency, repeat=repeat)
    Console().print(render(result))
    if result.errors:
        sys.exit(1)


@cli.command()
@click.option("--phase", required=True)
@click.option("--prob", required=True)
@click.option("--since", help="Start: a duration back from now (24h, 7d) or an ISO date (UTC).")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("report.html"),
    show_default=True,
)
@click.pass_obj
def report(app: App, phase: str, prob: str, since: str | None, output: Path) -> None:
    """Write one problem's monitoring views as one self-contained HTML file."""
    import time

    from mara.model import ModelBundle
    from mara.monitor.report import build_report, write_report
    from mara.monitor.window import parse_since
    from mara.registry import Registry

    def champion() -> tuple[ModelBundle | None, str | None]:
        registry = Registry(app.home)
        version = registry.champion_version(f"{phase}_{prob}")
        if version is None:
            return None, None
        return registry.load(f"{phase}_{prob}", version), version

    start = parse_since(since, now=time.time()) if since else None
    html = build_report(app.home, phase, prob, champion=champion, since=start)
    size = write_report(html, output)
    click.echo(f"wrote {output} ({size / 1024:.0f} KiB)")


@cli.command()
@click.option(
    "--rows-scale",
    type=float,
    default=1.0,
    show_default=True,
    help="Scale the demo problems' sizes (smaller is faster).",
)
@click.pass_obj
def demo(app: App, rows_scale: float) -> None:
    """Generate, train, register, serve and replay traffic for four demo problems."""
    from mara.demo import run_demo

    run_demo(app.home, rows_scale=rows_scale)


def main() -> None:
    """Entry point: expected failures print one line and exit 1."""
    try:
        cli(prog_name="mara")
    except MaraError as exc:
        sys.exit(f"mara: {exc}")
