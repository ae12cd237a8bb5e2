"""`mara serve`: every champion over HTTP, on uvicorn's workers or Ray Serve."""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
from pathlib import Path

import click

from mara.cli.app import App
from mara.errors import MaraError
from mara.home import Home
from mara.serve.options import DRAIN_DELAY_S, GRACE_S, ServeOptions


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=5040, show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes, each on its own core.  [default: the cores this process may use "
    "(os.sched_getaffinity)]",
)
@click.option(
    "--max-rows",
    type=int,
    default=ServeOptions.max_rows,
    show_default=True,
    help="Largest batch accepted; more rows get 413.",
)
@click.option(
    "--max-body-bytes",
    type=click.IntRange(min=1),
    default=None,
    help="Largest request body; a longer Content-Length gets 413 unread, a longer body is "
    "cut off with 413.  [default: 1024 bytes per --max-rows row]",
)
@click.option(
    "--max-in-flight",
    type=click.IntRange(min=1),
    default=ServeOptions.max_in_flight,
    show_default=True,
    help="Predict requests in flight per worker; more get 503 with Retry-After at once.",
)
@click.option(
    "--body-timeout",
    type=click.FloatRange(min=0),
    default=ServeOptions.body_timeout_s,
    show_default=True,
    help="Seconds for a request body to arrive after its headers; later gets 408.",
)
@click.option(
    "--drain-delay",
    type=click.FloatRange(min=0),
    default=DRAIN_DELAY_S,
    show_default=True,
    help="On SIGTERM/SIGINT, seconds to keep serving with /health at 503 before refusing "
    "new connections.",
)
@click.option(
    "--grace",
    type=click.FloatRange(min=0),
    default=GRACE_S,
    show_default=True,
    help="On SIGTERM/SIGINT, seconds for requests in flight to finish before they are cut.",
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
    default=ServeOptions.follow_interval_s,
    show_default=True,
    help="Seconds between checks for a moved champion alias, swapped in without downtime; "
    "0 serves the start-up champions only.",
)
@click.option(
    "--shadow-sample",
    type=click.FloatRange(0, 1),
    default=ServeOptions.shadow_sample,
    show_default=True,
    help="Share of live batches a problem's challenger also scores, off the request path "
    "(0: no shadow scoring).",
)
@click.option(
    "--shadow-cpu",
    type=click.FloatRange(0.01, 1),
    default=ServeOptions.shadow_cpu_share,
    show_default=True,
    help="Most of one core each worker's shadow scoring may use; batches beyond it are "
    "skipped, never queued without bound.",
)
@click.option(
    "--engine",
    type=click.Choice(["uvicorn", "ray"]),
    default="uvicorn",
    show_default=True,
    help="uvicorn: worker processes on this machine; ray: replicas on Ray Serve, on one "
    "machine or a cluster (needs the `ray` extra).",
)
@click.option(
    "--ray-address",
    envvar="RAY_ADDRESS",
    default=None,
    help="With --engine ray: the Ray cluster to join (host:port); none starts Ray here "
    "[env var: RAY_ADDRESS]",
)
@click.option(
    "--replicas",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="With --engine ray: replicas of the app (each a process using one core).",
)
@click.option(
    "--max-replicas",
    type=click.IntRange(min=1),
    default=None,
    help="With --engine ray: let Ray's autoscaler add replicas up to this many while "
    "requests queue (down to --replicas when idle).",
)
@click.option(
    "--guard-predict",
    is_flag=True,
    help="Predict needs a token with the `predict` scope too (it is open by default). Tokens "
    "come from MARA_TOKENS_FILE (`name:secret[:scopes]` lines) or MARA_TOKEN, never from "
    "the command line.",
)
@click.option(
    "--insecure-open",
    is_flag=True,
    help="Serve on an address other than loopback with no token configured: labels, the "
    "dashboard and metrics open to anyone who reaches the port.",
)
@click.pass_obj
def serve(
    app: App,
    host: str,
    port: int,
    workers: int | None,
    max_rows: int,
    max_body_bytes: int | None,
    max_in_flight: int,
    body_timeout: float,
    drain_delay: float,
    grace: float,
    no_capture: bool,
    no_compile: bool,
    follow_s: float,
    shadow_sample: float,
    shadow_cpu: float,
    engine: str,
    ray_address: str | None,
    replicas: int,
    max_replicas: int | None,
    guard_predict: bool,
    insecure_open: bool,
) -> None:
    """Serve the champion of every registered problem over HTTP; drain on SIGTERM/SIGINT."""
    from mara.serve import auth, server

    checked = auth.Auth.from_env(os.environ)  # a malformed tokens file stops here, in one line
    if guard_predict and not checked.enabled:
        raise MaraError("--guard-predict needs a token: set MARA_TOKENS_FILE or MARA_TOKEN")
    if not checked.enabled and not auth.is_loopback(host) and not insecure_open:
        raise MaraError(
            f"refusing to serve on {host} with labels, the dashboard and metrics open to "
            "anyone: set MARA_TOKENS_FILE or MARA_TOKEN, or pass --insecure-open"
        )
    if not checked.enabled:
        logging.getLogger("mara.serve").warning(
            "no token configured: labels, the dashboard and metrics are open on %s", host
        )
    # What the command line does not set (MARA_FAST_TIMEOUT) comes from the environment.
    options = dataclasses.replace(
        ServeOptions.from_env(os.environ),
        home=app.home.resolve(),
        max_rows=max_rows,
        max_body_bytes=max_body_bytes,
        max_in_flight=max_in_flight,
        body_timeout_s=body_timeout,
        capture=not no_capture,
        compile_models=not no_compile,
        follow_interval_s=follow_s,
        shadow_sample=shadow_sample,
        shadow_cpu_share=shadow_cpu,
        guard_predict=guard_predict,
    )
    # Worker processes and Ray's replicas build their app from these (ServeOptions.from_env).
    os.environ.update(options.to_env())
    workers = workers or server.usable_cores()
    if engine == "ray":
        _serve_on_ray(
            app.home.resolve(),
            host,
            port,
            workers,
            max_in_flight,
            grace,
            ray_address,
            replicas,
            max_replicas,
        )
        return
    if workers > 1:
        # Workers are separate processes: Prometheus counters must be shared through files.
        metrics_dir = Home(app.home.resolve()).prometheus()
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    config = server.uvicorn_config(
        "mara.serve.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        timeout_graceful_shutdown=grace,  # type: ignore[arg-type]  (any number of seconds)
    )
    server.run(config, drain_delay_s=drain_delay)


def _serve_on_ray(
    home: Path,
    host: str,
    port: int,
    workers: int,
    max_in_flight: int,
    grace: float,
    address: str | None,
    replicas: int,
    max_replicas: int | None,
) -> None:
    from click.core import ParameterSource

    source = click.get_current_context().get_parameter_source("workers")
    if workers > 1 and source is ParameterSource.COMMANDLINE:
        raise click.UsageError("--workers is for --engine uvicorn; on Ray use --replicas")
    if max_replicas is not None and max_replicas < replicas:
        raise click.UsageError(f"--max-replicas {max_replicas} is below --replicas {replicas}")
    try:
        from mara.serve import ray_engine
    except ImportError as exc:
        raise MaraError(f"--engine ray needs the ray extra (mara[ray]): {exc}") from exc
    ray_engine.run(ray_engine.RayOptions(
        home=home, host=host, port=port, address=address, replicas=replicas,
        max_replicas=max_replicas, max_in_flight=max_in_flight, grace_s=grace,
    ))  # fmt: skip
