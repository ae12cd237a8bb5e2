"""How much a labelled traffic row weighs against a table row, chosen on the traffic itself.

A changed rule inside a segment is contradicted by the table's rows, and the challenger
serves later traffic better the more the traffic weighs (benchmarks/improve); a new segment
the table never had is learned as well at weight 1, and a higher weight leaks its rule into
the old traffic. So the weight is chosen where it matters, on time: the older labelled rows
are cut once more, each candidate weight learns from the table and the earlier part, and is
scored on the later part. A weight above 1 is taken only if it beats weight 1 there with
confidence (a paired bootstrap), as the recipe keeps LightGBM's default shape unless another
beats it: a best-of-three on a few hundred rows is partly luck.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from mara.improve.data import ImproveData, split_recent
from mara.improve.gate import MetricDifference, paired_bootstrap
from mara.train.config import TrainConfig
from mara.train.recipe import fit_model

__all__ = ["WEIGHT_CANDIDATES", "WeightChoice", "choose_traffic_weight"]

WEIGHT_CANDIDATES = (1.0, 3.0, 10.0)
# Rows of the later part below which the choice stays at weight 1: too few to tell.
_MIN_CHECK_ROWS = 100


@dataclass
class WeightChoice:
    """The chosen weight, each candidate's gain over weight 1 on the later part, and the
    wall-clock seconds the choice took (its fits: what it adds to an improve run)."""

    weight: float
    reason: str
    gains: dict[float, MetricDifference] = field(default_factory=dict)
    seconds: float = 0.0


def choose_traffic_weight(
    data: ImproveData,
    *,
    share: float,
    train: TrainConfig,
    resamples: int,
    confidence: float,
    candidates: tuple[float, ...] = WEIGHT_CANDIDATES,
) -> WeightChoice:
    """The traffic weight among `candidates` that serves the newest older rows best.

    `data.older` (the labelled traffic) is cut by time (`share` newest rows to score on).
    The gate's forward-chained evidence covers these rows too, so a weight above 1 is judged
    partly on rows it was chosen on: one more reason it must win with confidence here.
    """
    started = time.perf_counter()
    earlier, later = split_recent(data.older, share)
    if len(later) < _MIN_CHECK_ROWS or later["label"].nunique() < 2:
        return WeightChoice(1.0, f"{len(later)} rows to choose on: weight 1")
    classes = data.table.classes
    truth = later["label"].tolist()
    features = later.reindex(columns=list(data.spec.features))
    predictions = {}
    for weight in sorted(set(candidates) | {1.0}):
        trial = ImproveData(data.spec, data.table, earlier, data.recent, weight)
        frame, labels, weights = trial.training_rows()
        model = fit_model(data.spec, frame, labels, classes, config=train, weights=weights)
        predictions[weight] = model.predict_frame(features)
    gains = {
        weight: paired_bootstrap(
            predictions[1.0],
            predicted,
            truth,
            classes,
            resamples=resamples,
            confidence=confidence,
            seed=4,
        )
        for weight, predicted in predictions.items()
        if weight != 1.0
    }
    sure = {w: g for w, g in gains.items() if g.low > 0}
    best = max(sure, key=lambda w: sure[w].difference) if sure else 1.0
    seconds = time.perf_counter() - started
    return WeightChoice(best, _reason(best, gains, len(later), seconds), gains, seconds)


def _reason(weight: float, gains: dict[float, MetricDifference], rows: int, seconds: float) -> str:
    shown = ", ".join(
        f"{w:g}: {g.difference:+.4f} [{g.low:+.4f}, {g.high:+.4f}]" for w, g in gains.items()
    )
    return (
        f"traffic weight {weight:g}, chosen on {rows} later older rows in {seconds:.0f} s "
        f"(gain over 1: {shown})"
    )
