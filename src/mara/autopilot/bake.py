"""Baking: a new champion watched against its predecessor on the traffic it answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mara.autopilot.config import AutopilotConfig
from mara.autopilot.watch import Watch
from mara.improve import paired_bootstrap
from mara.model import ModelBundle
from mara.spec import ProblemSpec

__all__ = ["Bake", "BakeVerdict", "judge_bake"]

# Batches each version needs before their server times are compared.
_LATENCY_BATCHES = 20


@dataclass(frozen=True)
class Bake:
    """A champion on probation: which version, which it replaced, since when."""

    version: str
    predecessor: str
    since: float


@dataclass(frozen=True)
class BakeVerdict:
    """Roll back or not, why, and the figures behind it."""

    rollback: bool
    reason: str
    evidence: dict[str, Any] = field(default_factory=dict)


def judge_bake(
    bake: Bake,
    watch: Watch,
    spec: ProblemSpec,
    predecessor: ModelBundle,
    classes: list[Any],
    config: AutopilotConfig,
) -> BakeVerdict:
    """Compare the baking champion with its predecessor: latency, then realized performance.

    Realized performance is paired: the predecessor scores the very labelled rows the new
    champion answered since its promotion, and the gain gets a bootstrap interval.
    """
    evidence: dict[str, Any] = {}
    batches = watch.batches[watch.batches["n_rows"] > 0]
    per_row = batches["server_ms"].astype(float) / batches["n_rows"]
    answered = (batches["model_version"] == bake.version) & (batches["received_at"] >= bake.since)
    new = per_row[answered]
    old = per_row[batches["model_version"] == bake.predecessor].tail(200)
    if len(new) >= _LATENCY_BATCHES and len(old) >= _LATENCY_BATCHES:
        ratio = float(new.median() / old.median())
        evidence["latency_ratio"] = ratio
        if ratio > config.latency_ratio:
            return BakeVerdict(
                True,
                f"v{bake.version} takes {ratio:.1f}x v{bake.predecessor}'s server time per row "
                f"(limit {config.latency_ratio:.1f}x)",
                evidence,
            )
    rows = watch.labelled[
        (watch.labelled["model_version"] == bake.version)
        & (watch.labelled["received_at"] >= bake.since)
    ]
    evidence["labelled_rows"] = len(rows)
    if len(rows) < config.bake_min_rows:
        return BakeVerdict(False, f"{len(rows)} labelled rows answered so far", evidence)
    try:
        diff = paired_bootstrap(
            predecessor.predict_frame(rows.reindex(columns=list(spec.features))),
            rows["prediction"].tolist(),
            rows["label"].tolist(),
            classes,
            resamples=config.improve.resamples,
            confidence=config.improve.confidence,
            seed=5,
        )
    except ValueError:  # one class among the labelled rows so far
        return BakeVerdict(False, "the labelled rows hold one class so far", evidence)
    evidence |= {
        f"{diff.metric}_champion": diff.challenger,
        f"{diff.metric}_predecessor": diff.champion,
        "gain_low": diff.low,
        "gain_high": diff.high,
    }
    summary = (
        f"on {diff.rows} labelled rows it answered, v{bake.version} {diff.metric} "
        f"{diff.challenger:.4f} vs v{bake.predecessor} {diff.champion:.4f}, gain "
        f"{diff.difference:+.4f} [{diff.low:+.4f}, {diff.high:+.4f}]"
    )
    if diff.high < -config.bake_tolerance:
        return BakeVerdict(True, f"{summary}: worse than its predecessor", evidence)
    return BakeVerdict(False, summary, evidence)
