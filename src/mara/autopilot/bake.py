"""Baking: a new champion watched against its predecessor on the traffic it answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mara.autopilot.config import AutopilotConfig
from mara.autopilot.watch import Watch
from mara.estimate import PerformanceEstimate
from mara.improve import paired_bootstrap
from mara.model import ModelBundle
from mara.spec import ProblemSpec
from mara.train.learners import Cost, slowdown

__all__ = ["Bake", "BakeVerdict", "expected_slowdown", "judge_bake"]

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


def expected_slowdown(
    new: Cost | None, old: Cost | None, served: pd.DataFrame | None = None
) -> float:
    """How many times as slow a request the recipe chose knowingly when it picked a forest
    costing `new` over one costing `old` (1 when either recorded no cost, or `new` is faster).

    The rest of a request (parsing, the matrix, the drift test, HTTP) is what the old
    forest's own requests took beyond its cost, from `served` (its batches: `n_rows`,
    `server_ms`), at each batch's size: a narrow table's requests cost less besides the
    forest than the recipe's `REQUEST_MS` (measured on a wide one), so the same forest
    slows them by more. Without served batches, the recipe's own figure.
    """
    if new is None or old is None:
        return 1.0
    if served is None or served.empty:
        return max(1.0, slowdown(new, old))
    rows = served["n_rows"].to_numpy(dtype=float)
    took = served["server_ms"].to_numpy(dtype=float)
    rest = np.maximum(took - old.at(rows), 0.0)
    ratios = (rest + new.at(rows)) / np.maximum(rest + old.at(rows), 1e-9)
    return max(1.0, float(np.median(ratios)))


def judge_bake(
    bake: Bake,
    watch: Watch,
    spec: ProblemSpec,
    predecessor: ModelBundle,
    classes: list[Any],
    config: AutopilotConfig,
    estimates: tuple[PerformanceEstimate, PerformanceEstimate] | None = None,
    *,
    costs: tuple[Cost | None, Cost | None] = (None, None),
) -> BakeVerdict:
    """Compare the baking champion with its predecessor: latency, estimated performance,
    then realized performance.

    The latency limit is `config.latency_ratio` times the slowdown the recipe chose
    knowingly (`expected_slowdown` of `costs`, the champion's and the predecessor's forests,
    on the predecessor's batches): a learner that serves slower and won by more for it is
    not rolled back for that cost, only for slowness beyond it.

    `estimates` are the champion's and the predecessor's estimates on the traffic the
    champion answered; they judge before any label arrives. Realized performance is paired:
    the predecessor scores the very labelled rows the new champion answered since its
    promotion, and the gain gets a bootstrap interval.
    """
    evidence: dict[str, Any] = {}
    batches = watch.batches[watch.batches["n_rows"] > 0]
    per_row = batches["server_ms"].astype(float) / batches["n_rows"]
    answered = (batches["model_version"] == bake.version) & (batches["received_at"] >= bake.since)
    new = per_row[answered]
    # The predecessor's latest batches: its time per row, and the rest of its requests.
    previous = batches[batches["model_version"] == bake.predecessor].tail(200)
    old = previous["server_ms"].astype(float) / previous["n_rows"]
    if len(new) >= _LATENCY_BATCHES and len(old) >= _LATENCY_BATCHES:
        ratio = float(new.median() / old.median())
        expected = expected_slowdown(*costs, previous)
        limit = config.latency_ratio * expected
        evidence |= {"latency_ratio": ratio, "latency_limit": limit, "latency_expected": expected}
        if ratio > limit:
            allowed = f", of which {expected:.1f}x expected by its recipe" if expected > 1 else ""
            return BakeVerdict(
                True,
                f"v{bake.version} takes {ratio:.1f}x v{bake.predecessor}'s server time per row "
                f"(limit {limit:.1f}x{allowed})",
                evidence,
            )
    if estimates is not None:
        verdict = _judge_estimates(bake, *estimates, evidence)
        if verdict is not None:
            return verdict
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


def _judge_estimates(
    bake: Bake,
    champion: PerformanceEstimate,
    predecessor: PerformanceEstimate,
    evidence: dict[str, Any],
) -> BakeVerdict | None:
    """A rollback when, both in region, the champion's band lies wholly below the other's."""
    if not (champion.in_region and predecessor.in_region) or not champion.n_rows:
        return None
    evidence |= {
        "estimated_champion": champion.estimate,
        "estimated_predecessor": predecessor.estimate,
        "estimated_rows": champion.n_rows,
    }
    if champion.high < predecessor.low:
        return BakeVerdict(
            True,
            f"on {champion.n_rows} rows it answered, estimated before labels, v{bake.version} "
            f"{champion.metric} {champion.estimate:.4f} [{champion.low:.4f}, "
            f"{champion.high:.4f}] vs v{bake.predecessor} {predecessor.estimate:.4f} "
            f"[{predecessor.low:.4f}, {predecessor.high:.4f}]: worse than its predecessor",
            evidence,
        )
    return None
