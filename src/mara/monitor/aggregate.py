"""From summaries to what the pages show: overview rows, series over time, feature views."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from mara.drift import DriftDetector
from mara.monitor.store import QUALITY, Batches, Profile, SummaryStore

__all__ = [
    "FeatureRow",
    "FlaggedBatch",
    "FeatureView",
    "OverviewRow",
    "PerformanceRow",
    "ProblemView",
    "Series",
    "feature_rows",
    "feature_view",
    "overview",
    "performance_rows",
    "problem_view",
]

DEFAULT_BUCKETS = 60
BAD_CELLS = ("missing", "coerced", "invalid", "unseen")


@dataclass(frozen=True)
class OverviewRow:
    """One problem's health over the recent window."""

    problem: str
    requests_per_s: float
    error_rate: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    drift_rate: float
    bad_cell_share: float
    version: str | None
    last_batch: float | None
    unavailable: bool = False

    @property
    def badness(self) -> tuple:
        """Sort key, worst first: unavailable, then errors, drift, dirt, latency."""

        def neg(x: float) -> float:
            return -x if math.isfinite(x) else 0.0

        return (
            not self.unavailable,
            neg(self.error_rate),
            neg(self.drift_rate),
            neg(self.bad_cell_share),
            neg(self.p99_ms),
            self.problem,
        )


@dataclass(frozen=True)
class Series:
    """Values per time bucket; NaN where a bucket had nothing to say."""

    name: str
    values: np.ndarray


@dataclass(frozen=True)
class ProblemView:
    """Everything the problem page charts, on one time axis of buckets."""

    problem: str
    start: float
    end: float
    edges: np.ndarray  # bucket edges, epoch seconds
    batches: int
    statistic: list[Series]
    threshold: Series
    drift_rate: Series
    version_changes: list[tuple[float, str]]
    quality: list[Series]
    latency: list[Series]
    throughput: list[Series]
    predictions: np.ndarray  # (buckets, classes) shares
    prediction_labels: list[str]
    versions: list[str]
    flagged: list[FlaggedBatch]


@dataclass(frozen=True)
class FlaggedBatch:
    """A batch flagged as drifted, with the features that scored highest in it."""

    t: float
    version: str
    rows: int
    statistic: float
    threshold: float
    top: list[tuple[str, float]]


@dataclass(frozen=True)
class FeatureRow:
    """A feature's drift over a window: mean and max score, and its mean per bucket."""

    name: str
    mean_score: float
    max_score: float
    trend: np.ndarray


@dataclass(frozen=True)
class FeatureView:
    """One feature's reference and recent distributions on the detector's bins."""

    name: str
    labels: list[str]
    reference: np.ndarray  # training share per bin
    recent: np.ndarray  # share per bin over the window (NaN-free; zeros when no rows)
    recent_rows: int
    version: str


@dataclass(frozen=True)
class PerformanceRow:
    """A realized metric of one model version over one time window."""

    version: str
    window_start: float
    metrics: dict[str, float] = field(default_factory=dict)


def overview(
    store: SummaryStore,
    *,
    served: Mapping[str, str],
    unavailable: Sequence[str] = (),
    now: float,
    window_s: float,
) -> list[OverviewRow]:
    """A row per served, unavailable or summarised problem, worst first."""
    rows = []
    for problem in sorted(set(served) | set(unavailable) | set(store.problems())):
        every = store.batches(problem)
        recent = every.since(now - window_s)
        ok = recent.code == 200
        scored = ~np.isnan(recent.thr)  # batches too small for a verdict do not dilute it
        p50, p95, p99 = _percentiles(recent.ms[ok], (50, 95, 99))
        version = served.get(problem)
        if version is None and len(every):
            answered = every.version[every.code == 200]
            version = answered[-1] if len(answered) else None
        rows.append(
            OverviewRow(
                problem=problem,
                requests_per_s=len(recent) / window_s,
                error_rate=_share(int((~ok).sum()), len(recent)),
                p50_ms=p50,
                p95_ms=p95,
                p99_ms=p99,
                drift_rate=_share(int((recent.drift[scored] == 1).sum()), int(scored.sum())),
                bad_cell_share=_bad_share(recent.quality),
                version=version,
                last_batch=float(every.t[-1]) if len(every) else None,
                unavailable=problem in unavailable,
            )
        )
    return sorted(rows, key=lambda row: row.badness)


def problem_view(
    store: SummaryStore,
    problem: str,
    *,
    since: float | None,
    now: float,
    n_buckets: int = DEFAULT_BUCKETS,
) -> ProblemView:
    """One problem's series over `since`..`now` (default: from its first batch)."""
    every = store.batches(problem)
    start = since if since is not None else (float(every.t[0]) if len(every) else now - 3600)
    end = max(now, start + 1.0)
    b = every.since(start)
    edges = np.linspace(start, end, n_buckets + 1)
    cuts = np.searchsorted(b.t, edges)
    cuts[-1] = len(b)
    slices = [b.slice(int(i), int(j)) for i, j in zip(cuts[:-1], cuts[1:], strict=True)]
    width = (end - start) / n_buckets

    def per_bucket(function) -> np.ndarray:
        return np.array([function(s) for s in slices], dtype=float)

    def scored(s: Batches) -> np.ndarray:
        return s.drift >= 0

    stat = [
        Series("median", per_bucket(lambda s: _nanpct(s.stat[scored(s)], 50))),
        Series("max", per_bucket(lambda s: _nanmax(s.stat[scored(s)]))),
    ]
    threshold = Series("threshold", per_bucket(lambda s: _nanpct(s.thr, 50)))
    drift_rate = Series(
        "flag rate",
        per_bucket(lambda s: _share(int((s.drift == 1).sum()), int((s.thr == s.thr).sum()))),
    )
    quality = [Series(name, per_bucket(_cell_share(QUALITY.index(name)))) for name in BAD_CELLS]
    latency = [
        Series(f"p{q}", per_bucket(lambda s, q=q: _nanpct(s.ms[s.code == 200], q)))
        for q in (50, 95, 99)
    ]
    throughput = [
        Series("requests/s", per_bucket(lambda s: len(s) / width)),
        Series("errors/s", per_bucket(lambda s: int((s.code != 200).sum()) / width)),
    ]
    labels, shares = _prediction_shares(slices)
    answered = b.code == 200
    versions = b.version[answered]
    times = b.t[answered]
    changes = [
        (float(times[i]), str(versions[i]))
        for i in range(1, len(versions))
        if versions[i] != versions[i - 1]
    ]
    return ProblemView(
        problem=problem,
        start=start,
        end=end,
        edges=edges,
        batches=len(b),
        statistic=stat,
        threshold=threshold,
        drift_rate=drift_rate,
        version_changes=changes,
        quality=quality,
        latency=latency,
        throughput=throughput,
        predictions=shares,
        prediction_labels=labels,
        versions=sorted({str(v) for v in versions}, key=_version_key),
        flagged=_last_flagged(b),
    )


def feature_rows(
    profiles: Sequence[Profile],
    detector: DriftDetector,
    *,
    start: float,
    end: float,
    query: str = "",
    n_buckets: int = 30,
) -> list[FeatureRow]:
    """Every feature's mean drift score over the profiles, most drifting first.

    Scores are on the detector's z-scale, so they compare across features and with the
    threshold. `query` keeps the features whose name contains it (case-insensitive).
    """
    names = detector.feature_names_in_
    usable = [p for p in profiles if len(p.score_sum) == len(names)]
    total = np.zeros(len(names))
    peak = np.full(len(names), -np.inf)
    trend_sum = np.zeros((n_buckets, len(names)))
    trend_n = np.zeros(n_buckets)
    width = max(end - start, 1.0) / n_buckets
    for p in usable:
        total += p.score_sum
        np.maximum(peak, p.score_max, out=peak)
        k = min(max(int((p.t - start) / width), 0), n_buckets - 1)
        trend_sum[k] += p.score_sum
        trend_n[k] += p.batches
    batches = sum(p.batches for p in usable)
    mean = total / batches if batches else np.full(len(names), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        trend = trend_sum / trend_n[:, None]
    needle = query.strip().lower()
    rows = [
        FeatureRow(name, float(mean[j]), float(peak[j]) if batches else math.nan, trend[:, j])
        for j, name in enumerate(names)
        if needle in name.lower()
    ]
    return sorted(
        rows, key=lambda r: (-(r.mean_score if math.isfinite(r.mean_score) else -1e9), r.name)
    )


def feature_view(
    profiles: Sequence[Profile],
    detector: DriftDetector,
    *,
    version: str,
    feature: str,
    categories: Sequence[str] = (),
) -> FeatureView:
    """Reference and recent shares of one feature on the detector's own bins.

    Only profiles of `version` count: another version's detector may bin differently.
    `categories` are the feature's training categories in code order (for bin labels).
    """
    names = list(detector.feature_names_in_)
    if feature not in names:
        raise KeyError(feature)
    j = names.index(feature)
    ref = detector.reference_
    first = int(ref.bin_start[j])
    last = int(ref.bin_start[j + 1]) if j + 1 < ref.n_features else ref.n_bins
    counts = np.zeros(last - first)
    rows = 0
    for p in profiles:
        if p.version == version and len(p.counts) == ref.n_bins:
            counts += p.counts[first:last]
            rows += p.rows
    train = ref.train_counts[first:last]
    return FeatureView(
        name=feature,
        labels=bin_labels(detector, j, categories),
        reference=train / train.sum() if train.sum() else train,
        recent=counts / counts.sum() if counts.sum() else counts,
        recent_rows=rows,
        version=version,
    )


def bin_labels(detector: DriftDetector, j: int, categories: Sequence[str] = ()) -> list[str]:
    """Readable names of feature j's bins, from the reference's edges or category codes."""
    ref = detector.reference_
    numeric = list(ref.numeric)
    if j in numeric:
        i = numeric.index(j)
        n_values = int(ref.n_value_bins[i])
        edges = [float(e) for e in ref.edges[: n_values - 1, i]]
        if not edges:
            return ["any value", "missing"]
        labels = [f"< {edges[0]:.4g}"]
        labels += [f"{a:.4g}–{b:.4g}" for a, b in zip(edges[:-1], edges[1:], strict=True)]
        return [*labels, f"≥ {edges[-1]:.4g}", "missing"]
    c = list(ref.categorical).index(j)
    k = int(ref.max_code[c])
    start = int(ref.code_start[c])
    code_bin = ref.code_bin[start : start + k + 2] - ref.bin_start[j]
    labels: list[list[str]] = [[] for _ in range(int(code_bin.max()) + 1)]
    for code, local in enumerate(code_bin[:k].tolist()):
        labels[local].append(categories[code] if code < len(categories) else f"#{code}")
    named = [names[0] if len(names) == 1 else f"rare ({len(names)})" for names in labels[:-2]]
    return [*named, "unseen", "missing"]


def performance_rows(
    realized: Mapping[tuple[str, float], Mapping[str, float]],
) -> list[PerformanceRow]:
    """Realized metrics per (model version, window start), in time order.

    This is where labels joined to served batches come in: the caller passes what the label
    ledger computed; an empty mapping means no label has been joined yet.
    """
    return [
        PerformanceRow(version, start, dict(metrics))
        for (version, start), metrics in sorted(realized.items(), key=lambda kv: kv[0][1])
    ]


def _last_flagged(b: Batches, limit: int = 10) -> list[FlaggedBatch]:
    """The most recent flagged batches, newest first."""
    index = np.flatnonzero(b.drift == 1)[::-1][:limit]
    return [
        FlaggedBatch(
            float(b.t[i]),
            str(b.version[i]),
            int(b.rows[i]),
            float(b.stat[i]),
            float(b.thr[i]),
            [(str(n), float(z)) for n, z in (b.top[i] or [])],
        )
        for i in index.tolist()
    ]


def _prediction_shares(slices: list[Batches]) -> tuple[list[str], np.ndarray]:
    labels = slices[0].pred_labels if slices else []
    counts = np.array([s.pred.sum(axis=0) for s in slices], dtype=float).reshape(
        len(slices), len(labels)
    )
    totals = counts.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return labels, np.where(totals > 0, counts / totals, np.nan)


def _cell_share(column: int):
    """The share of a bucket's cells counted in one quality column."""
    return lambda s: _share(int(s.quality[:, column].sum()), int(s.quality[:, 0].sum()))


def _bad_share(quality: np.ndarray) -> float:
    cells = int(quality[:, 0].sum())
    return _share(int(quality[:, 1:].sum()), cells)


def _share(part: int, whole: int) -> float:
    return part / whole if whole else math.nan


def _percentiles(values: np.ndarray, qs: Sequence[float]) -> list[float]:
    if not len(values):
        return [math.nan] * len(qs)
    return [float(x) for x in np.percentile(values, qs)]


def _nanpct(values: np.ndarray, q: float) -> float:
    values = values[~np.isnan(values)]
    return float(np.percentile(values, q)) if len(values) else math.nan


def _nanmax(values: np.ndarray) -> float:
    values = values[~np.isnan(values)]
    return float(values.max()) if len(values) else math.nan


def _version_key(version: str) -> tuple:
    return (0, int(version)) if version.isdigit() else (1, version)
