"""The `mara` command: one thin function per stage, over the library."""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mara.errors import MaraError
from mara.home import Home
from mara.serve.options import DRAIN_DELAY_S, GRACE_S, ServeOptions

if TYPE_CHECKING:
    from mara.improve import ImproveConfig

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
    "--budget",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="CPU seconds the search of each problem may take; more tries more candidates "
    "[default: 5].",
)
@click.option(
    "--learner",
    type=click.Choice(["lightgbm", "catboost", "blend"]),
    default=None,
    help="Force this learner (a blend fits both) [default: chosen by cross-validation].",
)
@click.option(
    "--compile/--no-compile",
    "compile_forest",
    default=True,
    show_default=True,
    help="Make the promoted forest fast now (servers then load it); else the first server "
    "to start compiles it before it reports ready.",
)
@click.pass_obj
def train(
    app: App,
    phase: str | None,
    prob: str | None,
    train_all: bool,
    seed: int,
    budget: float | None,
    learner: str | None,
    compile_forest: bool,
) -> None:
    """Train, log to MLflow, register `<phase>_<prob>`, promote if no worse than champion."""
    import time

    from rich.console import Console

    from mara.spec import find_problems
    from mara.train import TrainConfig, train_problem
    from mara.train.report import summary_table, train_progress

    if train_all == bool(phase and prob):
        raise click.UsageError("give either --phase and --prob, or --all")
    problems = find_problems(app.home) if train_all else [(phase, prob)]
    if not problems:
        raise click.UsageError(f"no problem under {app.home / 'data' / 'raw_data'}")
    options = {"budget": budget} if budget is not None else {}
    if learner is not None:
        options["learners"] = (learner,)
    config = TrainConfig(seed=seed, compile=compile_forest, **options)
    results = []
    with train_progress(Console(stderr=True), len(problems)) as shown:
        for problem_phase, problem_prob in problems:
            started = time.perf_counter()
            result = train_problem(
                app.home,
                problem_phase,
                problem_prob,
                config=config,
                progress=shown.problem(f"{problem_phase}/{problem_prob}"),
            )
            results.append((result, time.perf_counter() - started))
            shown.advance()
            click.echo(result.summary())
    Console(width=max(Console().width, 120)).print(summary_table(results))


@cli.command()
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
@click.option(
    "--url",
    default=None,
    help="POST the labels (JSONL files) to this running server instead of writing the home's "
    "ledger; the token comes from MARA_TOKEN or --token-file.",
)
@click.option(
    "--token-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="With --url: a file holding the token (its first line).",
)
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.pass_obj
def label(
    app: App,
    phase: str,
    prob: str,
    url: str | None,
    token_file: Path | None,
    files: tuple[Path, ...],
) -> None:
    """Take late labels (JSONL `{"id", "labels"}`, or CSV/Parquet `id,row,label`).

    Every file is checked before anything is written: one bad line rejects them all. Labels
    written here are recorded as sent by "local"; posted with --url, by the token's name.
    """
    from mara.labels import read_label_file
    from mara.labels.ingest import label_problem

    if url is not None:
        _post_labels(url, phase, prob, files, _client_token(token_file))
        return

    labels = [(str(path), read_label_file(path)) for path in files]
    reports = label_problem(app.home, phase, prob, labels)
    for (source, _), report in zip(labels, reports, strict=True):
        click.echo(f"{source}:\n" + report.summary())


def _client_token(token_file: Path | None) -> str | None:
    """The token a client command sends: --token-file's first line, else MARA_TOKEN."""
    if token_file is not None:
        lines = token_file.read_text().splitlines()
        return lines[0].strip() if lines else None
    return os.environ.get("MARA_TOKEN") or None


def _post_labels(
    url: str, phase: str, prob: str, files: tuple[Path, ...], token: str | None
) -> None:
    """POST each JSONL file's lines as one set to a server; stop at the first refusal."""
    import httpx
    import orjson

    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    for path in files:
        if path.suffix.lower() not in (".jsonl", ".ndjson", ".json"):
            raise MaraError(f"{path}: only JSONL label files can be posted (--url)")
        try:
            lines = [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
        except (OSError, orjson.JSONDecodeError) as exc:
            raise MaraError(f"{path}: not a JSONL label file ({exc})") from None
        endpoint = f"{url.rstrip('/')}/{phase}/{prob}/labels"
        try:
            answer = httpx.post(endpoint, content=orjson.dumps(lines), headers=headers, timeout=60)
        except httpx.HTTPError as exc:
            raise MaraError(f"cannot reach {endpoint}: {exc}") from None
        try:
            body = answer.json()
        except ValueError:
            body = {"detail": answer.text[:200]}
        if not answer.is_success:
            raise MaraError(f"{path}: {answer.status_code} {body.get('detail', body)}")
        click.echo(
            f"{path}: rows labelled {body['rows_labelled']}, ids joined {body['ids_joined']} "
            f"of {body['ids']}"
        )


class TrafficWeight(click.ParamType):
    """A positive number, or 'auto' (None: improve chooses it)."""

    name = "weight|auto"

    def convert(self, value: object, param: object, ctx: object) -> float | None:
        if value is None or (isinstance(value, str) and value.strip().lower() == "auto"):
            return None
        try:
            weight = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is neither a number nor 'auto'", param, ctx)
        if not weight > 0 or weight == float("inf"):
            self.fail(f"{value!r} must be a positive finite number", param, ctx)
        return weight


def improve_options(command: Callable[..., None]) -> Callable[..., None]:
    """The gate's and the challenger's options, shared by `improve` and `autopilot`."""
    options = [
        click.option(
            "--min-gain",
            type=float,
            default=0.0,
            show_default=True,
            help="Promote only when the bootstrap interval's lower bound of the gain on "
            "forward-chained (or shadowed) traffic is above this.",
        ),
        click.option(
            "--holdout-tolerance",
            type=float,
            default=0.005,
            show_default=True,
            help="The most the challenger may lose on the original holdout, while the "
            "champion holds its holdout level on labelled traffic.",
        ),
        click.option(
            "--recent-share",
            type=click.FloatRange(0, 1, min_open=True, max_open=True),
            default=0.3,
            show_default=True,
            help="With --traffic-weight auto: newest share of labelled traffic the weight is "
            "chosen on.",
        ),
        click.option(
            "--traffic-weight",
            type=TrafficWeight(),
            default="1",
            show_default=True,
            help="Weight of a labelled traffic row against a training row, or 'auto': "
            "1, 3 or 10, chosen on the older labelled traffic.",
        ),
        click.option(
            "--blocks",
            type=click.IntRange(min=2),
            default=4,
            show_default=True,
            help="Time-ordered blocks of labelled requests for forward chaining: each block "
            "after the first is predicted by the recipe fitted on the table and earlier blocks.",
        ),
        click.option(
            "--min-class-rows",
            type=click.IntRange(min=1),
            default=30,
            show_default=True,
            help="Labelled rows of each of two classes below which nothing is trained.",
        ),
        click.option(
            "--min-requests",
            type=click.IntRange(min=2),
            default=12,
            show_default=True,
            help="Labelled requests below which nothing is trained (the interval resamples "
            "requests).",
        ),
        click.option(
            "--shadow-rows",
            type=click.IntRange(min=1),
            default=200,
            show_default=True,
            help="Labelled live rows a shadowed challenger needs before the gate judges it on "
            "them instead of training a new one.",
        ),
        click.option("--seed", type=int, default=0, show_default=True),
        click.option(
            "--trust-sender",
            "trust_senders",
            multiple=True,
            help="Learn and judge only on labels this sender gave (a credential's name, "
            "'local' for `mara label` files, 'unknown' for labels from before senders were "
            "recorded); repeat for several.  [default: every sender]",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def improve_config(
    *,
    min_gain: float,
    holdout_tolerance: float,
    recent_share: float,
    traffic_weight: float | None,
    blocks: int,
    min_class_rows: int,
    min_requests: int,
    shadow_rows: int,
    seed: int,
    trust_senders: tuple[str, ...] = (),
    stage: bool = False,
) -> ImproveConfig:
    """The ImproveConfig the shared options describe."""
    from mara.improve import GateRule, ImproveConfig
    from mara.train import TrainConfig

    return ImproveConfig(
        recent_share=recent_share,
        traffic_weight=traffic_weight,
        blocks=blocks,
        min_class_rows=min_class_rows,
        min_requests=min_requests,
        stage=stage,
        shadow_rows=shadow_rows,
        gate=GateRule(min_gain=min_gain, holdout_tolerance=holdout_tolerance),
        train=TrainConfig(seed=seed),
        trusted_senders=tuple(trust_senders) or None,
    )


@cli.command()
@click.option("--phase", required=True)
@click.option("--prob", required=True)
@improve_options
@click.option(
    "--stage",
    is_flag=True,
    help="A challenger that passes the gate is shadowed on live traffic, not promoted; a "
    "later run promotes it on that evidence.",
)
@click.pass_obj
def improve(app: App, phase: str, prob: str, **options: Any) -> None:
    """Train a challenger on labelled traffic; promote it only if it is better on recent traffic.

    A challenger the server has shadowed on enough labelled live rows is judged on those
    first. Exits 0 whether or not it promotes.
    """
    from mara.improve import improve_problem

    config = improve_config(**options)
    click.echo(improve_problem(app.home, phase, prob, config=config).summary())


@cli.command()
@click.option("--phase", required=True)
@click.option("--prob", required=True)
@click.pass_obj
def shadow(app: App, phase: str, prob: str) -> None:
    """How the challenger did in shadow: rows scored, agreement, both models on labelled rows."""
    from mara.improve.shadow import shadow_evidence
    from mara.labels import training_classes
    from mara.registry import CHALLENGER, Registry
    from mara.spec import load_spec

    spec = load_spec(app.home, phase, prob)
    registry = Registry(app.home)
    champion = registry.champion_version(spec.name)
    challenger = registry.alias_version(spec.name, CHALLENGER)
    if champion is None or challenger is None or challenger == champion:
        click.echo(f"{spec.name}: no challenger beside champion v{champion or '-'}")
        return
    classes = training_classes(app.home, spec)
    click.echo(shadow_evidence(app.home, spec, champion, challenger, classes).summary())


@cli.command()
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


@cli.command()
@click.option("--phase", required=True)
@click.option("--prob", required=True)
@click.option("--version", "version", required=True, help="The registered version to serve.")
@click.option("--reason", default="promoted by hand", show_default=True)
@click.pass_obj
def promote(app: App, phase: str, prob: str, version: str, reason: str) -> None:
    """Make a registered version the champion (a running server swaps it in)."""
    from mara.registry import Registry

    registry = Registry(app.home)
    name = f"{phase}_{prob}"
    known = registry.versions(name)
    if version not in known:
        raise click.UsageError(f"{name} has no version {version} (versions: {', '.join(known)})")
    before = registry.champion_version(name)
    registry.promote(name, version, by="promote", reason=reason)
    click.echo(f"{name}: champion v{before or '-'} -> v{version}")


@cli.command()
@click.option("--phase", required=True)
@click.option("--prob", required=True)
@click.pass_obj
def rollback(app: App, phase: str, prob: str) -> None:
    """Bring back the champion before the current one, from the alias history."""
    from mara.registry import Registry

    name = f"{phase}_{prob}"
    current, target = Registry(app.home).rollback(name)
    if target is None:
        raise click.UsageError(f"{name}: no earlier champion in the alias history")
    click.echo(f"{name}: champion v{current} -> v{target} (rolled back)")


@cli.command()
@click.option("--phase", required=True)
@click.option("--prob", required=True)
@click.pass_obj
def history(app: App, phase: str, prob: str) -> None:
    """Every move of the champion and challenger aliases: when, from, to, by what, why."""
    from mara.registry import Registry

    moves = Registry(app.home).alias_history(f"{phase}_{prob}")
    if not moves:
        click.echo(f"{phase}_{prob}: no alias moves recorded")
    for move in moves:
        click.echo(move.line())


@cli.command()
@click.option("--phase", required=True)
@click.option("--prob", required=True)
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
    name = f"{phase}_{prob}"
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

    from mara.monitor.report import build_report, registry_champion, write_report
    from mara.monitor.window import parse_since

    start = parse_since(since, now=time.time()) if since else None
    champion = registry_champion(app.home, phase, prob)
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


def main() -> None:
    """Entry point: expected failures print one line and exit 1."""
    try:
        cli(prog_name="mara")
    except MaraError as exc:
        sys.exit(f"mara: {exc}")
