"""AutopilotConfig: when the autopilot acts, and how long a new champion is watched."""

from __future__ import annotations

from dataclasses import dataclass, field

from mara.improve import ImproveConfig

__all__ = ["AutopilotConfig"]


@dataclass(frozen=True)
class AutopilotConfig:
    """The rules of `mara autopilot`; every field is a command-line option."""

    # Seconds between looks at each problem.
    interval_s: float = 30.0
    # Improve runs once the labelled traffic meets improve's per-class floor, then whenever
    # it has grown by this share since the last run (an interval narrower by a fifth at 0.5)...
    label_growth: float = 0.5
    # ...or when the champion's realized score on the labelled rows it answered is below
    # its holdout score beyond the interval, or `drift_k` of the last `drift_m` batches were
    # flagged, and at least `min_drift_labels` labelled rows arrived (improve learns from
    # labels, not from an alarm).
    drift_k: int = 3
    drift_m: int = 10
    min_drift_labels: int = 200
    # ...or when the champion's estimated performance over the last `estimate_window_s`
    # (before labels, mara.estimate) has its whole band below its holdout metric and
    # `min_drift_labels` rows arrived. Estimates are made at most every `estimate_every_s`.
    estimate_window_s: float = 3600.0
    estimate_every_s: float = 300.0
    # Seconds after an improve run before the next may start, whatever the rules say.
    cooldown_s: float = 600.0
    # A new champion is watched this long against its predecessor, then kept.
    bake_s: float = 600.0
    # Labelled rows the new champion answered before realized performance may judge it.
    bake_min_rows: int = 200
    # A new champion is rolled back when, on the rows it answered, the predecessor does
    # better with confidence by more than this (upper bound of the gain below -tolerance).
    bake_tolerance: float = 0.0
    # ...or when, on the traffic it answered, its estimated band lies wholly below its
    # predecessor's (both estimated on the same rows, before any label);
    # ...or when its median server time per row is this many times its predecessor's.
    latency_ratio: float = 3.0
    # Shadow a challenger on live traffic before promoting it (improve --stage)... Off by
    # default: benchmarks/autopilot measured the wait for labelled shadow rows costing more
    # served score than it saved; the gate's interval and the bake already guard a promotion.
    shadow: bool = False
    # ...for at most this long: a challenger still short of shadow evidence after it may be
    # replaced by a new one when a rule fires (until then no rule trains another).
    shadow_wait_s: float = 1800.0
    improve: ImproveConfig = field(default_factory=ImproveConfig)
