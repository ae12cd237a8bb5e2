"""improve_problem: a challenger from labelled traffic, judged against the champion."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from mara.errors import RegistryError
from mara.improve.chain import forward_chain
from mara.improve.data import ImproveData, short_of_floor
from mara.improve.gate import (
    GateDecision,
    GateRule,
    MetricDifference,
    ScoreShift,
    paired_bootstrap,
    score_shift,
)
from mara.improve.shadow import ShadowEvidence, shadow_evidence
from mara.improve.weight import WeightChoice, choose_traffic_weight
from mara.labels import labelled_traffic, training_classes
from mara.registry import CHALLENGER, Registry
from mara.spec import ProblemSpec, load_spec
from mara.train.config import TrainConfig
from mara.train.data import load_training_table
from mara.train.recipe import fit_model
from mara.train.trainer import make_served_fast

__all__ = ["ImproveConfig", "ImproveResult", "improve_problem"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImproveConfig:
    """Settings of `mara improve`; every field is logged as an MLflow parameter."""

    # Time-ordered blocks of labelled requests: each block after the first is predicted by
    # the recipe fitted on the table and the earlier blocks (blocks - 1 fits), with this
    # many CPU seconds of search each (the served model gets `train.budget`).
    blocks: int = 4
    evidence_budget: float = 1.0
    # The floor, below which nothing is judged at all: rows of each of two classes, and
    # requests (the interval resamples requests; a handful cannot show their spread).
    min_class_rows: int = 30
    min_requests: int = 12
    # Weight of a labelled traffic row against a training-table row; None (the default)
    # chooses it on the traffic (mara.improve.weight, cutting off its newest `recent_share`;
    # 3 more fits). benchmarks/improve: on a new segment 3 and 10 were never better than 1
    # and leaked its rule into the old traffic (fraud: -0.035 AUC on the original holdout at
    # 3); on a changed rule they were better, and a rule the table contradicts is followed
    # only with them.
    traffic_weight: float | None = None
    recent_share: float = 0.3
    # CPU seconds of search of each fit that chooses the weight: what bench-improve measured
    # the choice at (the training default then), not the served model's default budget, which
    # would triple the choice's time and so the labels' wait for a promotion.
    weight_budget: float = 5.0
    # Stage: a challenger that passes the gate is shadowed on live traffic (alias
    # `challenger`) instead of promoted; a later run promotes it on its shadow evidence.
    stage: bool = False
    # Labelled shadowed rows that make a challenger's shadow evidence the gate's evidence.
    shadow_rows: int = 200
    gate: GateRule = field(default_factory=GateRule)
    resamples: int = 1000
    confidence: float = 0.95
    train: TrainConfig = field(default_factory=TrainConfig)
    # Learn and judge only on labels these senders (credential names) gave; None: every one.
    trusted_senders: tuple[str, ...] | None = None


@dataclass
class ImproveResult:
    """What one improve run saw, built and decided."""

    spec: ProblemSpec
    champion: str
    challenger: str | None
    promoted: bool
    reason: str
    recent: MetricDifference | None = None
    holdout: MetricDifference | None = None
    rows: dict[str, int] = field(default_factory=dict)
    window: tuple[float, float] | None = None
    judged_on: str = "forward-chained traffic"
    shadow: ShadowEvidence | None = None
    # The challenger passed the gate and waits in shadow for its promotion.
    staged: bool = False
    # How the traffic weight was chosen, when it was (ImproveConfig.traffic_weight None).
    weight: WeightChoice | None = None
    # The champion's recent score against its holdout, and the gate rule that applied.
    shift: ScoreShift | None = None
    rule: str | None = None

    def summary(self) -> str:
        """A few lines for the terminal: the evidence, then the decision."""
        lines = [f"{self.spec.name}: labelled traffic rows {self.rows}"]
        if self.window:
            start, end = (
                time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) for t in self.window
            )
            lines.append(f"capture window {start} .. {end}")
        if self.shadow is not None:
            lines.append(self.shadow.summary())
        if self.weight is not None:
            lines.append(self.weight.reason)
        if self.shift is not None:
            moved = self.shift
            lines.append(
                f"champion v{self.champion} {moved.metric} {moved.recent:.4f} on labelled "
                f"traffic vs {moved.holdout:.4f} on its holdout: {moved.difference:+.4f} "
                f"[{moved.low:+.4f}, {moved.high:+.4f}] ({self.rule})"
            )
        for name, diff in ((self.judged_on, self.recent), ("original holdout", self.holdout)):
            if diff is not None:
                lines.append(
                    f"{name:<16} {diff.metric}: champion v{self.champion} {diff.champion:.4f}, "
                    f"challenger v{self.challenger} {diff.challenger:.4f}, "
                    f"gain {diff.difference:+.4f} [{diff.low:+.4f}, {diff.high:+.4f}]"
                    + (
                        f", one-sided bound {diff.floor:+.4f}"
                        if diff is self.recent and diff.floor is not None
                        else ""
                    )
                )
        verdict = (
            f"promoted v{self.challenger}"
            if self.promoted
            else f"staged v{self.challenger}"
            if self.staged
            else "kept the champion"
        )
        lines.append(f"{verdict}: {self.reason}")
        return "\n".join(lines)


def improve_problem(
    home: Path,
    phase: str,
    prob: str,
    *,
    config: ImproveConfig = ImproveConfig(),
    registry: Registry | None = None,
    shadow: ShadowEvidence | None = None,
) -> ImproveResult:
    """Train a challenger on the table plus labelled traffic; promote it if the gate says so.

    A challenger already shadowed on enough labelled live rows is judged on those instead,
    and promoted or retired. With too few labelled rows nothing is trained and nothing
    promoted; the result says why. `shadow` is that challenger's evidence when the caller
    has just computed it (with `config.resamples` and `config.confidence`); it is computed
    here when not given, or when it is of another champion or challenger than the current.
    """
    spec = load_spec(home, phase, prob)
    registry = registry or Registry(home)
    champion = registry.champion_version(spec.name)
    if champion is None:
        raise RegistryError(f"{spec.name} has no champion to improve on: run `mara train` first")
    pending = registry.alias_version(spec.name, CHALLENGER)
    if pending is not None and pending != champion:
        evidence = shadow
        if evidence is None or (evidence.champion, evidence.challenger) != (champion, pending):
            evidence = shadow_evidence(
                home,
                spec,
                champion,
                pending,
                training_classes(home, spec),
                resamples=config.resamples,
                confidence=config.confidence,
                trusted=config.trusted_senders,
            )
        if evidence.labelled_rows >= config.shadow_rows:
            return _judge_shadowed(home, spec, registry, evidence, config)
    traffic, _ = labelled_traffic(home, phase, prob, spec.features, trusted=config.trusted_senders)
    rows = {"labelled": len(traffic), "requests": int(traffic["key"].nunique())}
    short = short_of_floor(traffic, config.min_class_rows, config.min_requests)
    if short is not None:
        return ImproveResult(spec, champion, None, False, short, rows=rows)

    table = load_training_table(home, spec, holdout=config.train.holdout, seed=config.train.seed)
    rows["table"] = len(table.train)
    weight = config.traffic_weight
    choice = None
    if weight is None:
        log.info("%s: choosing the traffic weight", spec.name)
        choice = choose_traffic_weight(
            ImproveData(spec, table, traffic, traffic.iloc[:0], 1.0),
            share=config.recent_share,
            train=replace(config.train, budget=config.weight_budget),
            resamples=config.resamples,
            confidence=config.confidence,
        )
        weight = choice.weight
    current = registry.load(spec.name)
    features = list(spec.features)
    evidence_train = replace(config.train, budget=config.evidence_budget)

    def fit_on(learned: Any, train: TrainConfig) -> Any:
        data = ImproveData(spec, table, learned, traffic.iloc[:0], weight)
        frame, labels, weights = data.training_rows()
        return fit_model(spec, frame, labels, table.classes, config=train, weights=weights)

    log.info("%s: forward-chaining the recipe over %d labelled rows", spec.name, len(traffic))
    chained = forward_chain(
        traffic,
        config.blocks,
        lambda earlier: fit_on(earlier, evidence_train),
        lambda model, block: model.predict_frame(block.reindex(columns=features)),
    )
    scored = traffic.iloc[chained.rows]
    rows["scored"] = len(scored)
    rows["chain_fits"] = chained.fits
    holdout_frame = table.holdout_frame.reindex(columns=features)
    holdout_labels = table.labels.iloc[table.holdout].tolist()
    champion_on_holdout = current.predict_frame(holdout_frame)
    champion_on_scored = current.predict_frame(scored.reindex(columns=features))
    bootstrap = {"resamples": config.resamples, "confidence": config.confidence}
    try:
        gain = paired_bootstrap(
            champion_on_scored,
            chained.predictions,
            scored["label"].tolist(),
            table.classes,
            groups=scored["key"].tolist(),
            strata=chained.blocks,
            # A row counts by the traffic its fit learned from: the later blocks' fits are
            # the closest to the served one, which learns from every labelled row.
            weights=chained.learned,
            seed=1,
            **bootstrap,
        )
        shift = score_shift(
            champion_on_scored,
            scored["label"].tolist(),
            champion_on_holdout,
            holdout_labels,
            table.classes,
            groups=scored["key"].tolist(),
            seed=5,
            **bootstrap,
        )
    except ValueError as exc:  # the scored rows hold one class, or too few of the rarer
        reason = f"forward-chained evidence unusable: {exc}"
        return ImproveResult(spec, champion, None, False, reason, rows=rows)
    # The model that would serve learns from the table and every labelled row.
    log.info("%s: training the challenger on the table and %d rows", spec.name, len(traffic))
    challenger = fit_on(traffic, config.train)
    rows["learned_from"] = len(traffic)
    on_holdout = paired_bootstrap(
        champion_on_holdout,
        challenger.predict_frame(holdout_frame),
        holdout_labels,
        table.classes,
        seed=2,
        **bootstrap,
    )
    decision = config.gate.judge(gain, on_holdout, shift)
    staged = decision.promote and config.stage
    if staged:
        decision = GateDecision(
            False, f"{decision.reason}; staged: shadowed before promotion", decision.rule
        )
    window = (float(traffic["received_at"].min()), float(traffic["received_at"].max()))
    version = _register(
        registry,
        spec,
        challenger,
        config,
        weight,
        choice,
        window,
        rows,
        gain,
        on_holdout,
        shift,
        decision,
        champion,
        staged,
    )
    if decision.promote and config.train.compile:
        make_served_fast(home, challenger)
    return ImproveResult(
        spec,
        champion,
        version,
        decision.promote,
        decision.reason,
        gain,
        on_holdout,
        rows,
        window,
        judged_on="forward-chained traffic",
        staged=staged,
        weight=choice,
        shift=shift,
        rule=decision.rule,
    )


def _judge_shadowed(
    home: Path,
    spec: ProblemSpec,
    registry: Registry,
    evidence: ShadowEvidence,
    config: ImproveConfig,
) -> ImproveResult:
    """Promote a shadowed challenger on its live evidence, or retire it (the alias goes back
    to the champion, so the server stops shadowing it)."""
    assert evidence.labelled is not None
    table = load_training_table(home, spec, holdout=config.train.holdout, seed=config.train.seed)
    features = table.holdout_frame.reindex(columns=list(spec.features))
    on_holdout = paired_bootstrap(
        registry.load(spec.name, evidence.champion).predict_frame(features),
        registry.load(spec.name, evidence.challenger).predict_frame(features),
        table.labels.iloc[table.holdout].tolist(),
        table.classes,
        resamples=config.resamples,
        confidence=config.confidence,
        seed=2,
    )
    decision = config.gate.decide(evidence.labelled, on_holdout, where="shadowed")
    reason = f"shadow evidence: {decision.reason}"
    if decision.promote:
        registry.promote(spec.name, evidence.challenger, by="improve", reason=reason)
        if config.train.compile:
            make_served_fast(home, registry.load(spec.name, evidence.challenger))
    else:
        reason = f"{reason}; challenger retired"
        registry.move_alias(spec.name, CHALLENGER, evidence.champion, by="improve", reason=reason)
    return ImproveResult(
        spec,
        evidence.champion,
        evidence.challenger,
        decision.promote,
        reason,
        evidence.labelled,
        on_holdout,
        rows={"shadowed": evidence.rows, "shadowed_labelled": evidence.labelled_rows},
        judged_on="shadowed traffic",
        shadow=evidence,
    )


def _register(
    registry: Registry,
    spec: ProblemSpec,
    bundle: Any,
    config: ImproveConfig,
    weight: float,
    choice: WeightChoice | None,
    window: tuple[float, float],
    rows: dict[str, int],
    gain: MetricDifference,
    on_holdout: MetricDifference,
    shift: ScoreShift,
    decision: GateDecision,
    champion: str,
    staged: bool,
) -> str:
    bundle.metrics = {on_holdout.metric: on_holdout.challenger}
    with registry.run(spec.name, f"improve {spec.name}"):
        params = {
            "blocks": config.blocks,
            "chain_row_weight": "traffic rows its fit learned from",
            "evidence_budget": config.evidence_budget,
            "weight_budget": config.weight_budget,
            "min_class_rows": config.min_class_rows,
            "min_requests": config.min_requests,
            "traffic_weight": weight,
            "traffic_weight_chosen": config.traffic_weight is None,
            **({} if choice is None else {"traffic_weight_seconds": round(choice.seconds, 1)}),
            "min_gain": config.gate.min_gain,
            "holdout_tolerance": config.gate.holdout_tolerance,
            "confidence": config.confidence,
            "resamples": config.resamples,
            "capture_from": _iso(window[0]),
            "capture_to": _iso(window[1]),
            **{f"rows_{k}": v for k, v in rows.items()},
            **{f"train_{k}": v for k, v in asdict(config.train).items()},
        }
        metric = gain.metric
        metrics = {
            f"chained_{metric}": gain.challenger,
            f"chained_champion_{metric}": gain.champion,
            "chained_gain_low": gain.low,
            "chained_gain_high": gain.high,
            "chained_gain_one_sided_low": gain.floor,
            f"holdout_{metric}": on_holdout.challenger,
            f"holdout_champion_{metric}": on_holdout.champion,
            "holdout_gain_low": on_holdout.low,
            "holdout_gain_high": on_holdout.high,
            f"champion_recent_{metric}": shift.recent,
            "champion_shift_low": shift.low,
            "champion_shift_high": shift.high,
        }
        registry.log(
            params=params,
            metrics=metrics,
            tags={
                "phase": spec.phase,
                "prob": spec.prob,
                "mara.kind": "improve",
                "mara.champion_before": champion,
                "mara.promoted": str(decision.promote).lower(),
                "mara.rule": decision.rule,
                "mara.decision": decision.reason[:4000],
            },
        )
        version = registry.log_bundle(bundle).version
        # Only a challenger that passed the gate holds the alias (and is shadowed); a
        # rejected one stays a registered version with its evidence.
        if decision.promote or staged:
            reason = decision.reason
            registry.move_alias(spec.name, CHALLENGER, version, by="improve", reason=reason)
        if decision.promote:
            registry.promote(spec.name, version, by="improve", reason=decision.reason)
    return version


def _iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))
