"""`mara autopilot`: improve, promote and roll back by itself, beside `mara serve`."""

from __future__ import annotations

from typing import Any

import click

from mara.cli.app import App
from mara.cli.improve import improve_config, improve_options


@click.command()
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=30.0,
    show_default=True,
    help="Seconds between looks at each problem.",
)
@click.option(
    "--label-growth",
    type=click.FloatRange(min=0, min_open=True),
    default=0.5,
    show_default=True,
    help="Improve once the labelled rows meet improve's floor, then whenever they have "
    "grown by this share since the last run.",
)
@click.option(
    "--drift",
    "drift_rule",
    default="3/10",
    show_default=True,
    help="K/M: improve when K of the last M judged batches drifted (and "
    "--min-drift-labels rows arrived).",
)
@click.option(
    "--min-drift-labels",
    type=click.IntRange(min=0),
    default=200,
    show_default=True,
    help="New labelled rows a realized drop, an estimated drop or drift needs to trigger.",
)
@click.option(
    "--estimate-window",
    type=click.FloatRange(min=1),
    default=3600.0,
    show_default=True,
    help="Seconds of recent traffic the champion's estimated performance covers.",
)
@click.option(
    "--estimate-every",
    type=click.FloatRange(min=0),
    default=300.0,
    show_default=True,
    help="Seconds between estimates of a problem's performance.",
)
@click.option(
    "--cooldown",
    type=click.FloatRange(min=0),
    default=600.0,
    show_default=True,
    help="Seconds between improve runs of a problem.",
)
@click.option(
    "--bake",
    type=click.FloatRange(min=0),
    default=600.0,
    show_default=True,
    help="Seconds a new champion is watched against its predecessor.",
)
@click.option(
    "--bake-min-rows",
    type=click.IntRange(min=1),
    default=200,
    show_default=True,
    help="Labelled rows a baking champion must answer before it is judged on them.",
)
@click.option(
    "--latency-ratio",
    type=click.FloatRange(min=1),
    default=3.0,
    show_default=True,
    help="Roll back a baking champion this many times slower per row.",
)
@click.option(
    "--shadow/--no-shadow",
    default=False,
    show_default=True,
    help="Shadow a challenger on live traffic and promote it on its labelled live "
    "rows, instead of as soon as the gate passes.",
)
@click.option(
    "--shadow-wait",
    type=click.FloatRange(min=0),
    default=1800.0,
    show_default=True,
    help="Seconds a shadowed challenger may wait for its labelled evidence before "
    "a rule may replace it.",
)
@click.option(
    "--looks",
    type=click.IntRange(min=1),
    default=None,
    help="Stop after this many looks (default: run until SIGINT/SIGTERM).",
)
@improve_options
@click.pass_obj
def autopilot(
    app: App,
    interval: float,
    label_growth: float,
    drift_rule: str,
    min_drift_labels: int,
    estimate_window: float,
    estimate_every: float,
    cooldown: float,
    bake: float,
    bake_min_rows: int,
    latency_ratio: float,
    shadow: bool,
    shadow_wait: float,
    looks: int | None,
    **options: Any,
) -> None:
    """Improve, promote and roll back by itself: run beside `mara serve`, on the same home.

    Every decision goes to data/autopilot/<phase>/<prob>/audit.jsonl and to MLflow.
    """
    import signal
    import threading

    from mara.autopilot import Autopilot, AutopilotConfig

    try:
        drift_k, drift_m = (int(part) for part in drift_rule.split("/"))
    except ValueError:
        raise click.BadParameter("expected K/M, e.g. 3/10", param_hint="--drift") from None
    config = AutopilotConfig(
        interval_s=interval,
        label_growth=label_growth,
        drift_k=drift_k,
        drift_m=drift_m,
        min_drift_labels=min_drift_labels,
        estimate_window_s=estimate_window,
        estimate_every_s=estimate_every,
        cooldown_s=cooldown,
        bake_s=bake,
        bake_min_rows=bake_min_rows,
        latency_ratio=latency_ratio,
        shadow=shadow,
        shadow_wait_s=shadow_wait,
        improve=improve_config(**options),
    )
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    click.echo(f"autopilot: looking every {interval:g} s (SIGINT or SIGTERM stops it)")
    Autopilot(app.home, config).run(stop, looks=looks)
