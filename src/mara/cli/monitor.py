"""`mara estimate` and `mara report`: how a problem's traffic went, labelled or not."""

from __future__ import annotations

from pathlib import Path

import click

from mara.cli.app import App, problem_options
from mara.home import Problem


@click.command()
@problem_options
@click.option("--version", "version", help="Version to estimate [default: the champion].")
@click.option("--since", help="Start: a duration back from now (24h, 7d) or an ISO date (UTC).")
@click.option("--window", default="1h", show_default=True, help="Length of each window.")
@click.option("--served-by", help="Only batches this version answered [default: every batch].")
@click.option(
    "--calibration",
    type=click.Choice(["auto", "none", "platt", "isotonic", "temperature"]),
    default="auto",
    show_default=True,
    help="auto: the lowest cross-validated Brier score on the holdout.",
)
@click.pass_obj
def estimate(
    app: App,
    phase: str,
    prob: str,
    version: str | None,
    since: str | None,
    window: str,
    served_by: str | None,
    calibration: str,
) -> None:
    """Estimate AUC or accuracy per window of captured traffic, before labels arrive."""
    import time

    from mara.estimate import estimate_windows, ready_version
    from mara.monitor.window import parse_duration, parse_since
    from mara.registry import Registry

    registry = Registry(app.home)
    name = Problem(phase, prob).name
    version = version or registry.champion_version(name)
    if version is None:
        raise click.UsageError(f"{name} has no champion: give --version or run `mara train`")
    start = parse_since(since, now=time.time()) if since else None
    ready = ready_version(app.home, phase, prob, version, registry=registry)
    fitted = ready.estimator
    if calibration != "auto" and calibration not in fitted.calibrators_:
        raise click.BadParameter(
            f"this model's calibrations are {', '.join(fitted.calibrators_)}",
            param_hint="--calibration",
        )
    click.echo(
        f"{name} v{version}: holdout {fitted.metric_} {fitted.baseline_:.4f}; calibration "
        f"{calibration if calibration != 'auto' else fitted.method_} (fitted on "
        f"{fitted.holdout_rows_:,} held-out rows; cross-validated Brier "
        + ", ".join(f"{m} {b:.4f}" for m, b in fitted.brier_.items())
        + ")"
    )
    windows = estimate_windows(
        app.home,
        phase,
        prob,
        version,
        since_ns=int(start * 1e9) if start is not None else None,
        window_s=parse_duration(window),
        served_by=served_by,
        calibration=None if calibration == "auto" else calibration,
        registry=registry,
    )
    if not windows:
        click.echo("no captured traffic in that time")
    for found in windows:
        click.echo(found.line())
        if not found.in_region:
            click.echo(f"    {found.reason}")


@click.command()
@problem_options
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

    from mara.monitor.report import build_report, registry_champion, write_report
    from mara.monitor.window import parse_since

    start = parse_since(since, now=time.time()) if since else None
    champion = registry_champion(app.home, phase, prob)
    html = build_report(app.home, phase, prob, champion=champion, since=start)
    size = write_report(html, output)
    click.echo(f"wrote {output} ({size / 1024:.0f} KiB)")
