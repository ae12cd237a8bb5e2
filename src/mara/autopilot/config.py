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
    # Improve runs when this many labelled rows arrived since the last run...
    min_new_labels: int = 1000
    # ...or when `drift_k` of the last `drift_m` batches were flagged and at least
    # `min_drift_labels` labelled rows arrived (improve learns from labels, not from drift).
    drift_k: int = 3
    drift_m: int = 10
    min_drift_labels: int = 200
    # Seconds after an improve run before the next may start, whatever the rules say.
    cooldown_s: float = 600.0
    # A new champion is watched this long against its predecessor, then kept.
    bake_s: float = 600.0
    # Labelled rows the new champion answered before realized performance may judge it.
    bake_min_rows: int = 200
    # A new champion is rolled back when, on the rows it answered, the predecessor does
    # better with confidence by more than this (upper bound of the gain below -tolerance).
    bake_tolerance: float = 0.0
    # ...or when its median server time per row is this many times its predecessor's.
    latency_ratio: float = 3.0
    # Shadow a challenger on live traffic before promoting it (improve --stage).
    shadow: bool = True
    improve: ImproveConfig = field(default_factory=ImproveConfig)
