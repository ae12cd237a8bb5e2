"""The `mara` command: one module per command group, each a thin layer over the library.

Each command imports what it runs inside its body, so `mara --help` loads click alone.
"""

from __future__ import annotations

import sys

from mara.cli import autopilot, bench, data, demo, improve, label, monitor, registry, serve, train
from mara.cli.app import cli
from mara.errors import MaraError

__all__ = ["cli", "main"]

for command in (
    data.make_data,
    train.train,
    serve.serve,
    bench.bench,
    label.label,
    improve.improve,
    improve.shadow,
    autopilot.autopilot,
    registry.promote,
    registry.rollback,
    registry.history,
    monitor.estimate,
    monitor.report,
    demo.demo,
):
    cli.add_command(command)


def main() -> None:
    """Entry point: expected failures print one line and exit 1."""
    try:
        cli(prog_name="mara")
    except MaraError as exc:
        sys.exit(f"mara: {exc}")
