"""`mara bench`: replay request batches against a running server."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mara.cli.app import problem_options


@click.command()
@click.option("--url", required=True, help="Base URL of a running server.")
@problem_options
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
