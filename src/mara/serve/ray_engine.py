"""`mara serve --engine ray`: the same Starlette app, one copy per Ray Serve replica.

Each replica builds the app with `app_from_env`, exactly as a uvicorn worker does, from the
`MARA_*` variables the CLI set (passed to the replicas in their runtime environment), so
routes, limits, errors, capture and the champion follower are the very same code. Ray Serve's
proxies (one per node) take the HTTP traffic and spread it over the replicas:

    client -> Ray Serve proxy (every node, --host/--port) -> replica 1..N (mara's app)

Every replica follows the champion alias on its own and writes its own capture and summary
files (named by process id), so writers never interleave and the one capture reader reads
them all. On a cluster of several nodes, the home (`MARA_HOME`) must be the same shared
directory on every node and `MLFLOW_TRACKING_URI` one tracking server.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import tempfile
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray
from ray import serve
from starlette.applications import Starlette

from mara.errors import MaraError
from mara.home import Home

__all__ = [
    "APP_NAME",
    "RayOptions",
    "Replica",
    "check_reachable",
    "deployment_options",
    "replica_env",
    "run",
]

log = logging.getLogger("mara.serve")

APP_NAME = "mara"
# The request path is single-threaded Python: one core is what a replica can use.
REPLICA_CPUS = 1.0
# What a replica takes from the `mara serve` process: the app's settings, MLflow's, and
# Ray Serve's own tuning of the replica (RAY_SERVE_*).
_PASSED_PREFIXES = ("MARA_", "MLFLOW_", "RAY_SERVE_")


@dataclass(frozen=True)
class RayOptions:
    """How to run on Ray: where the cluster is and how many replicas serve.

    `address` None starts a Ray instance on this machine for the life of the command;
    `max_replicas` above `replicas` lets Ray's autoscaler move between the two, aiming at
    `target_in_flight` requests in flight per replica.
    """

    home: Path
    host: str = "127.0.0.1"
    port: int = 8000
    address: str | None = None
    replicas: int = 1
    max_replicas: int | None = None
    target_in_flight: float = 2.0
    max_in_flight: int = 8
    grace_s: float = 30.0


@serve.deployment
@serve.ingress()
class Replica:
    """One Ray Serve replica of mara's app."""

    def __serve_build_asgi_app__(self) -> Starlette:
        # Lines from mara's loggers go where Ray Serve writes this replica's log.
        serve_logger = logging.getLogger("ray.serve")
        mara_logger = logging.getLogger("mara")
        mara_logger.handlers = list(serve_logger.handlers)
        mara_logger.setLevel(logging.INFO)
        mara_logger.propagate = False
        Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)
        from mara.serve.app import app_from_env

        return app_from_env()


def replica_env(environ: dict[str, str], *, metrics_dir: Path) -> dict[str, str]:
    """The environment of every replica: mara's and MLflow's variables, and a metrics dir.

    Replicas on one node sum their Prometheus counters in `metrics_dir` (a path on each
    node's own disk), as uvicorn workers do, so `/metrics` counts every replica of the node.
    """
    env = {key: value for key, value in environ.items() if key.startswith(_PASSED_PREFIXES)}
    env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    return env


def deployment_options(options: RayOptions, env: dict[str, str]) -> dict[str, Any]:
    """`Replica.options(...)` for these settings: a replica count or Ray's autoscaling."""
    scaling: dict[str, Any]
    if options.max_replicas is not None and options.max_replicas > options.replicas:
        scaling = {
            "autoscaling_config": {
                "min_replicas": options.replicas,
                "initial_replicas": options.replicas,
                "max_replicas": options.max_replicas,
                "target_ongoing_requests": options.target_in_flight,
            }
        }
    else:
        scaling = {"num_replicas": options.replicas}
    return {
        "name": APP_NAME,
        "ray_actor_options": {"num_cpus": REPLICA_CPUS, "runtime_env": {"env_vars": env}},
        # Ray queues what a replica cannot take yet (and scales on it); mara's own limit
        # then never refuses a request Ray could have sent to another replica.
        "max_ongoing_requests": options.max_in_flight,
        "graceful_shutdown_timeout_s": options.grace_s,
        "logging_config": {
            "logs_dir": str(Home(Path(options.home).resolve()).logs() / "ray"),
            "enable_access_log": False,
        },
        **scaling,
    }


def check_reachable(address: str, *, timeout_s: float = 10.0) -> None:
    """Fail at once on a cluster address nothing listens on (`ray.init` would retry forever)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise MaraError(f"a Ray address is host:port, not {address!r}")
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise MaraError(f"cannot reach the Ray cluster at {address}: {exc}") from exc


def run(options: RayOptions) -> None:
    """Deploy the app on Ray Serve and serve until SIGTERM or SIGINT, then remove it."""
    metrics_dir = Path(tempfile.gettempdir()) / "mara-metrics" / uuid.uuid4().hex
    env = replica_env(dict(os.environ), metrics_dir=metrics_dir)
    if options.address is not None and options.address != "auto":
        check_reachable(options.address)
    try:
        ray.init(address=options.address, logging_level=logging.WARNING, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise MaraError(f"cannot reach the Ray cluster at {options.address}: {exc}") from exc
    # After ray.init, which installs handlers of its own that end the process at once.
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda sig, frame: stop.set())
    try:
        serve.start(
            http_options={"host": options.host, "port": options.port},
            logging_config={"enable_access_log": False},
        )
        deployment = Replica.options(**deployment_options(options, env))
        try:
            serve.run(deployment.bind(), name=APP_NAME, route_prefix="/", blocking=False)
        except RuntimeError as exc:
            raise MaraError(f"Ray Serve could not start mara's replicas: {exc}") from exc
        scaling = (
            f"{options.replicas} to {options.max_replicas} replicas (autoscaling)"
            if options.max_replicas and options.max_replicas > options.replicas
            else f"{options.replicas} replica(s)"
        )
        log.info("serving on Ray Serve at http://%s:%d, %s", options.host, options.port, scaling)
        stop.wait()
        log.info("stopping: replicas finish the requests they hold, then close their capture")
    finally:
        # The app goes, its replicas drain; Serve's proxies stay for other applications.
        serve.delete(APP_NAME)
        if options.address is None:
            serve.shutdown()
        ray.shutdown()
        shutil.rmtree(metrics_dir, ignore_errors=True)
