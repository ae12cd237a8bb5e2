"""Estimated performance of a model version over windows of captured traffic."""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mara.capture import CaptureIndex
from mara.estimate.metrics import realized_accuracy, realized_auc
from mara.estimate.region import DEFAULT_MAX_OUTSIDE_SHARE, check_region
from mara.estimate.version import ReadyVersion, ready_version
from mara.labels import LabelLedger, join_rows
from mara.registry import Registry

__all__ = ["DEFAULT_MAX_ROWS", "PerformanceEstimate", "estimate_performance", "estimate_windows"]

# Rows scored per window at most; a larger window is sampled by whole batches, evenly.
DEFAULT_MAX_ROWS = 50_000
MIN_ROWS = 20


@dataclass(frozen=True)
class PerformanceEstimate:
    """A version's estimated metric over one window of traffic (see `mara.estimate`)."""

    version: str
    metric: str
    n_rows: int
    estimate: float
    low: float
    high: float
    baseline: float
    in_region: bool
    reason: str
    start_ns: int | None
    end_ns: int | None
    batches: int = 0
    method: str = ""
    realized: float | None = None
    labelled_rows: int = 0
    drift_share: float | None = None
    domain_auc: float | None = None
    outside_share: float | None = None
    effective_share: float | None = None

    @property
    def below_baseline(self) -> bool:
        """In region, and the whole band is below the holdout's metric: a drop to act on."""
        return self.in_region and math.isfinite(self.high) and self.high < self.baseline

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (NaN becomes None)."""
        return {
            k: None if isinstance(v, float) and not math.isfinite(v) else v
            for k, v in asdict(self).items()
        }

    def line(self) -> str:
        """One line for a terminal."""
        start = _clock(self.start_ns)
        if self.n_rows == 0 or not math.isfinite(self.estimate):
            return f"v{self.version} {start}  {self.n_rows:>7,} rows  -  {self.reason}"
        band = f"[{self.low:.4f}, {self.high:.4f}]" if math.isfinite(self.low) else "[-]"
        realized = (
            f"  realized {self.realized:.4f} on {self.labelled_rows:,}"
            if self.realized is not None
            else ""
        )
        flag = "" if self.in_region else "  OUT OF REGION"
        return (
            f"v{self.version} {start}  {self.n_rows:>7,} rows  {self.metric} "
            f"{self.estimate:.4f} {band} (holdout {self.baseline:.4f}){realized}{flag}"
        )


def estimate_performance(
    home: Path,
    phase: str,
    prob: str,
    version: str,
    since_ns: int | None = None,
    until_ns: int | None = None,
    *,
    served_by: str | None = None,
    calibration: str | None = None,
    max_rows: int = DEFAULT_MAX_ROWS,
    max_outside_share: float = DEFAULT_MAX_OUTSIDE_SHARE,
    registry: Registry | None = None,
) -> PerformanceEstimate:
    """`version`'s estimated metric on the traffic captured in [since_ns, until_ns)."""
    traffic = _Traffic.read(home, phase, prob, version, since_ns, until_ns, served_by, registry)
    return traffic.estimate(
        traffic.batches,
        since_ns,
        until_ns,
        calibration=calibration,
        max_rows=max_rows,
        max_outside_share=max_outside_share,
    )


def estimate_windows(
    home: Path,
    phase: str,
    prob: str,
    version: str,
    *,
    since_ns: int | None = None,
    until_ns: int | None = None,
    window_s: float = 3600.0,
    served_by: str | None = None,
    calibration: str | None = None,
    max_rows: int = DEFAULT_MAX_ROWS,
    max_outside_share: float = DEFAULT_MAX_OUTSIDE_SHARE,
    registry: Registry | None = None,
) -> list[PerformanceEstimate]:
    """One estimate per window of `window_s` seconds that holds traffic, oldest first."""
    if window_s <= 0:
        raise ValueError("window_s must be positive")
    traffic = _Traffic.read(home, phase, prob, version, since_ns, until_ns, served_by, registry)
    batches = traffic.batches
    starts = np.floor(batches["received_at"].to_numpy(dtype=float) / window_s) * window_s
    return [
        traffic.estimate(
            batches[starts == start],
            int(start * 1e9),
            int((start + window_s) * 1e9),
            calibration=calibration,
            max_rows=max_rows,
            max_outside_share=max_outside_share,
        )
        for start in sorted(set(starts.tolist()))
    ]


@dataclass(frozen=True)
class _Traffic:
    """A ready version and the problem's captured batches and labels, read once."""

    ready: ReadyVersion
    index: CaptureIndex
    batches: pd.DataFrame
    labels: pd.DataFrame

    @classmethod
    def read(
        cls,
        home: Path,
        phase: str,
        prob: str,
        version: str,
        since_ns: int | None,
        until_ns: int | None,
        served_by: str | None,
        registry: Registry | None,
    ) -> _Traffic:
        ready = ready_version(home, phase, prob, version, registry=registry)
        index = CaptureIndex(Path(home), phase, prob).refresh()
        return cls(
            ready,
            index,
            _batches(index, since_ns, until_ns, served_by),
            LabelLedger(home, phase, prob).read(),
        )

    def estimate(
        self, batches: pd.DataFrame, since_ns: int | None, until_ns: int | None, **options: Any
    ) -> PerformanceEstimate:
        return _estimate(
            self.ready, self.index, batches, self.labels, since_ns, until_ns, **options
        )


def _batches(
    index: CaptureIndex, since_ns: int | None, until_ns: int | None, served_by: str | None
) -> pd.DataFrame:
    batches = index.batches()
    at_ns = batches["received_at"].to_numpy(dtype=float) * 1e9
    keep = np.ones(len(batches), dtype=bool)
    if since_ns is not None:
        keep &= at_ns >= since_ns
    if until_ns is not None:
        keep &= at_ns < until_ns
    if served_by is not None:
        keep &= (batches["model_version"] == str(served_by)).to_numpy()
    # A batch id captured twice (a retry) counts once, at its first capture, as the reader does.
    return batches[keep].drop_duplicates("key", keep="first")


def _estimate(
    ready: ReadyVersion,
    index: CaptureIndex,
    batches: pd.DataFrame,
    labels: pd.DataFrame,
    since_ns: int | None,
    until_ns: int | None,
    *,
    calibration: str | None,
    max_rows: int,
    max_outside_share: float,
) -> PerformanceEstimate:
    estimator = ready.estimator
    nan = float("nan")
    start_ns = since_ns if since_ns is not None else _edge_ns(batches, min)
    end_ns = until_ns if until_ns is not None else _edge_ns(batches, max)
    common = {
        "version": ready.version,
        "metric": estimator.metric_,
        "baseline": float(estimator.baseline_),
        "start_ns": start_ns,
        "end_ns": end_ns,
        "batches": len(batches),
        "method": calibration or estimator.method_,
    }
    if batches.empty:
        return PerformanceEstimate(
            n_rows=0,
            estimate=nan,
            low=nan,
            high=nan,
            in_region=False,
            reason="no captured traffic in this window",
            **common,
        )
    sampled = _sample(batches, max_rows)
    window_keys = set(batches["key"])
    labelled = set(labels["key"]) & window_keys
    features = list(ready.spec.features)
    rows = index.rows(sorted(set(sampled) | labelled), features=features)
    scored = rows[rows["key"].isin(set(sampled))]
    matrix, scores = ready.scores(scored[features])
    notes = []
    if len(sampled) < len(batches):
        total = int(batches["n_rows"].sum())
        notes.append(f"scored {len(scored):,} of {total:,} rows (whole batches, evenly spread)")
    realized, labelled_rows = _realized(ready, rows, labels)
    drift_share = _drift_share(batches)
    if drift_share is not None:
        notes.append(f"{drift_share:.0%} of batches flagged as drifted")
    if len(scored) < MIN_ROWS:
        return PerformanceEstimate(
            n_rows=len(scored),
            estimate=nan,
            low=nan,
            high=nan,
            in_region=False,
            reason="; ".join(
                [f"{len(scored)} rows: too few to estimate (need {MIN_ROWS})", *notes]
            ),
            realized=realized,
            labelled_rows=labelled_rows,
            drift_share=drift_share,
            **common,
        )
    estimate = estimator.estimate(scores, method=calibration)
    mask = ready.bundle.preprocessor.categorical_mask
    region = check_region(
        ready.holdout,
        matrix,
        categorical=[i for i, c in enumerate(mask) if c],
        max_outside_share=max_outside_share,
    )
    return PerformanceEstimate(
        n_rows=len(scored),
        estimate=estimate.value,
        low=estimate.low,
        high=estimate.high,
        in_region=region.in_region,
        reason="; ".join([region.reason, *notes]),
        realized=realized,
        labelled_rows=labelled_rows,
        drift_share=drift_share,
        domain_auc=region.domain_auc,
        outside_share=region.outside_share,
        effective_share=region.effective_share,
        **common,
    )


def _sample(batches: pd.DataFrame, max_rows: int) -> list[str]:
    """Keys of whole batches, evenly spread over time, holding at most `max_rows` rows."""
    ordered = batches.sort_values("received_at", kind="stable")
    total = int(ordered["n_rows"].sum())
    if total <= max_rows:
        return ordered["key"].tolist()
    step = math.ceil(total / max_rows)
    picked = ordered.iloc[::step]
    while int(picked["n_rows"].sum()) > max_rows and len(picked) > 1:
        step += 1
        picked = ordered.iloc[::step]
    return picked["key"].tolist()


def _realized(
    ready: ReadyVersion, rows: pd.DataFrame, labels: pd.DataFrame
) -> tuple[float | None, int]:
    """The version's metric on the window's labelled rows, scored again by that version."""
    joined = join_rows(rows, labels)
    if joined.empty:
        return None, 0
    _, scores = ready.scores(joined[list(ready.spec.features)])
    codes = ready.label_codes(joined["label"])
    if scores.ndim == 1:
        return realized_auc(scores, codes == 1), len(joined)
    return realized_accuracy(scores.argmax(axis=1) == codes), len(joined)


def _drift_share(batches: pd.DataFrame) -> float | None:
    """Share of the window's batches the server flagged, among those it could judge."""
    judged = batches[batches["drift_statistic"].notna()]
    return float(judged["drift"].mean()) if len(judged) else None


def _edge_ns(batches: pd.DataFrame, pick: Any) -> int | None:
    if batches.empty:
        return None
    return int(pick(batches["received_at"]) * 1e9)


def _clock(ns: int | None) -> str:
    if ns is None:
        return "-" * 19
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ns / 1e9))
