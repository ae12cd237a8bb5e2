"""`mara improve` and `mara shadow`, and the gate's options `autopilot` shares."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from mara.cli.app import App, problem_options

if TYPE_CHECKING:
    from mara.improve import ImproveConfig


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
            default="auto",
            show_default=True,
            help="Weight of a labelled traffic row against a training row, or 'auto': "
            "1, 3 or 10, chosen on the older labelled traffic (3 more fits; 3 or 10 only "
            "when it beats 1 with confidence).",
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


@click.command()
@problem_options
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


@click.command()
@problem_options
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
