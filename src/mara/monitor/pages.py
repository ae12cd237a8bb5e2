"""HTML of the dashboard pages and the report: the same sections, linked or inlined."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING
from urllib.parse import quote

from mara.monitor.aggregate import (
    FeatureRow,
    FeatureView,
    FlaggedBatch,
    OverviewRow,
    PerformanceRow,
    ProblemView,
)
from mara.monitor.svg import bars, heatmap, line_chart, sparkline

if TYPE_CHECKING:
    from mara.estimate import PerformanceEstimate

__all__ = ["document", "feature_section", "overview_section", "problem_sections"]

BASE = "/dashboard"


def document(title: str, body: str, *, css: str | None = None, live: bool = False) -> str:
    """A whole page: served style and script for the dashboard, inline style for a report."""
    if css is None:
        head = f'<link rel="stylesheet" href="{BASE}/static/style.css">'
        if live:
            head += f'<script src="{BASE}/static/live.js" defer></script>'
    else:
        # A file opened from disk has no headers: the policy travels in the page itself.
        head = (
            '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
            "style-src 'unsafe-inline'; img-src data:\">"
            f"<style>{css}</style>"
        )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title>{head}</head><body>"
        f'<main id="live">{body}</main></body></html>'
    )


def overview_section(
    rows: Sequence[OverviewRow], *, now: float, window_s: float, link: bool = True
) -> str:
    """The table of problems, worst first."""
    head = (
        "<tr><th>problem</th><th>requests/s</th><th>error rate</th><th>p50 ms</th>"
        "<th>p95 ms</th><th>p99 ms</th><th>drift-flag rate</th><th>bad cells</th>"
        "<th>served version</th><th>last batch</th></tr>"
    )
    body = []
    for r in rows:
        name = (
            f'<a href="{BASE}/{_path(r.problem)}">{escape(r.problem)}</a>'
            if link
            else escape(r.problem)
        )
        state = ' class="down"' if r.unavailable else ""
        version = "not loaded" if r.unavailable else (f"v{escape(r.version)}" if r.version else "–")
        body.append(
            f'<tr{state} data-problem="{escape(r.problem)}"><td>{name}</td>'
            f"<td>{r.requests_per_s:.3g}</td><td>{_pct(r.error_rate)}</td>"
            f"<td>{_num(r.p50_ms)}</td><td>{_num(r.p95_ms)}</td><td>{_num(r.p99_ms)}</td>"
            f"<td>{_pct(r.drift_rate)}</td><td>{_pct(r.bad_cell_share)}</td>"
            f"<td>{version}</td><td>{_ago(r.last_batch, now)}</td></tr>"
        )
    empty = '<tr><td colspan="10">No problem is served and no batch summarised yet.</td></tr>'
    return (
        f'<h1>mara monitoring</h1><p class="meta">Last {_span(window_s)}, as of '
        f'<time id="as-of">{_stamp(now)}</time> UTC. Worst first.</p>'
        f'<table class="overview"><thead>{head}</thead><tbody>'
        f"{''.join(body) or empty}</tbody></table>"
    )


def problem_sections(
    view: ProblemView,
    features: Sequence[FeatureRow] | None,
    performance: Sequence[PerformanceRow],
    *,
    estimated: Sequence[PerformanceEstimate] = (),
    estimate_note: str = "",
    query: str = "",
    link: bool = True,
    feature_limit: int = 15,
) -> str:
    """The problem page: drift, features, quality, latency, predictions, performance.

    `estimated` (mara.estimate's per version and window) goes beside the realized metrics;
    `estimate_note` says why some or all are missing.
    """
    problem = escape(view.problem)
    versions = ", ".join(f"v{escape(v)}" for v in view.versions) or "none"
    parts = [
        f"<h1>{problem}</h1>" + (f'<p><a href="{BASE}">all problems</a></p>' if link else ""),
        f'<p class="meta">{view.batches:,} batches from {_stamp(view.start)} to '
        f"{_stamp(view.end)} UTC; model versions: {versions}.</p>",
        '<section id="drift"><h2>Drift</h2>',
        line_chart(
            view.edges,
            view.statistic,
            title="drift statistic (z) against threshold",
            threshold=view.threshold,
            markers=view.version_changes,
        ),
        line_chart(
            view.edges,
            [view.drift_rate],
            title="share of batches flagged",
            percent=True,
            markers=view.version_changes,
        ),
        _flagged(view.flagged),
        "</section>",
        _features(view, features, query=query, link=link, limit=feature_limit),
        '<section id="quality"><h2>Data quality</h2>',
        line_chart(view.edges, view.quality, title="share of cells", percent=True),
        "</section>",
        '<section id="traffic"><h2>Latency and throughput</h2>',
        line_chart(view.edges, view.latency, title="server latency", unit=" ms"),
        line_chart(view.edges, view.throughput, title="requests per second"),
        "</section>",
        '<section id="predictions"><h2>Predictions</h2>',
        heatmap(
            view.edges,
            view.predictions,
            view.prediction_labels,
            title="distribution of predictions over time",
        ),
        "</section>",
        _performance(performance, estimated, estimate_note),
    ]
    return "".join(parts)


def feature_section(
    view: FeatureView, row: FeatureRow | None, *, problem: str, link: bool = True
) -> str:
    """One feature: its reference and recent distributions on the detector's bins."""
    name = escape(view.name)
    header = (
        (
            f'<h1>{escape(problem)}: {name}</h1><p><a href="{BASE}/{_path(problem)}">'
            f"{escape(problem)}</a></p>"
        )
        if link
        else f'<h3 id="f-{name}">{name}</h3>'
    )
    score = (
        f"mean drift score {_num(row.mean_score, 2)}, max {_num(row.max_score, 2)}; "
        if row is not None
        else ""
    )
    chart = bars(
        view.labels,
        [("reference (training)", view.reference), (f"recent (v{view.version})", view.recent)],
        title=f"{view.name}: share of rows per bin of the drift detector",
    )
    table = ""
    if link:  # the report keeps to the chart: a hundred tables would outweigh everything
        rows = "".join(
            f"<tr><td>{escape(label)}</td><td>{ref:.2%}</td><td>{recent:.2%}</td></tr>"
            for label, ref, recent in zip(
                view.labels, view.reference.tolist(), view.recent.tolist(), strict=True
            )
        )
        table = (
            '<table class="bins"><thead><tr><th>bin</th><th>reference</th><th>recent</th>'
            f"</tr></thead><tbody>{rows}</tbody></table>"
        )
    return (
        f'{header}<p class="meta">{score}recent: {view.recent_rows:,} rows served by '
        f"v{escape(view.version)}.</p>{chart}{table}"
    )


def _features(
    view: ProblemView, rows: Sequence[FeatureRow] | None, *, query: str, link: bool, limit: int
) -> str:
    if rows is None:
        return (
            '<section id="features"><h2>Most drifting features</h2><p>No drift detector '
            "is loaded for this problem.</p></section>"
        )
    search = ""
    if link:
        search = (
            f'<form method="get" action="{BASE}/{_path(view.problem)}" role="search">'
            f'<input type="search" name="q" value="{escape(query)}" id="feature-search" '
            'placeholder="search features" aria-label="search features"></form>'
        )
    body = []
    for r in rows[:limit]:
        name = escape(r.name)
        if link:
            href = f"{BASE}/{_path(view.problem)}/features/{quote(r.name, safe='')}"
            name = f'<a href="{href}">{name}</a>'
        else:
            name = f'<a href="#f-{escape(r.name)}">{name}</a>'
        body.append(
            f'<tr data-feature="{escape(r.name)}"><td>{name}</td>'
            f"<td>{_num(r.mean_score, 2)}</td><td>{_num(r.max_score, 2)}</td>"
            f"<td>{sparkline(r.trend)}</td></tr>"
        )
    more = (
        f'<p class="meta">{len(rows) - limit} more; search to find one.</p>'
        if len(rows) > limit
        else ""
    )
    empty = '<tr><td colspan="4">No feature matches.</td></tr>'
    return (
        '<section id="features"><h2>Most drifting features</h2>'
        '<p class="meta">Mean per-batch drift score on the detector\'s z-scale (above the '
        f"threshold: drifted on its own).</p>{search}"
        '<table class="features"><thead><tr><th>feature</th><th>mean score</th>'
        "<th>max score</th><th>over time</th></tr></thead>"
        f"<tbody>{''.join(body) or empty}</tbody></table>{more}</section>"
    )


def _flagged(batches: Sequence[FlaggedBatch]) -> str:
    if not batches:
        return '<p class="meta">No batch flagged in this window.</p>'
    body = "".join(
        f"<tr><td>{_stamp(b.t)}</td><td>v{escape(b.version)}</td><td>{b.rows:,}</td>"
        f"<td>{_num(b.statistic, 2)}</td><td>{_num(b.threshold, 2)}</td><td>"
        + ", ".join(f"{escape(name)} {score:.1f}" for name, score in b.top)
        + "</td></tr>"
        for b in batches
    )
    return (
        '<h3>Last flagged batches</h3><table class="flagged"><thead><tr><th>time (UTC)</th>'
        "<th>version</th><th>rows</th><th>statistic</th><th>threshold</th>"
        f"<th>highest feature scores</th></tr></thead><tbody>{body}</tbody></table>"
    )


def _performance(
    rows: Sequence[PerformanceRow], estimated: Sequence[PerformanceEstimate], note: str
) -> str:
    head = (
        '<section id="performance"><h2>Model performance</h2><p class="meta">Realized: '
        "the predictions each version served against the late labels joined to them. "
        "Estimated: before labels, from the version's calibrated confidence on the rows "
        "it served (mara.estimate), with its 95% band; out of region means the traffic "
        "left the rows the calibration was fitted on, where the estimate cannot hold. A "
        "change of the labels' rule itself (concept shift) shows only in the realized "
        "metric.</p>"
    )
    note = f'<p class="meta">{escape(note)}</p>' if note else ""
    if not rows and not estimated:
        return (
            head + "<p>No labels have been joined to served batches yet, and no "
            f"estimate is available.</p>{note}</section>"
        )
    merged: dict[tuple[str, float], dict] = {}
    for r in rows:
        merged.setdefault((r.version, r.window_start), {})["realized"] = r.metrics
    for e in estimated:
        start = (e.start_ns or 0) / 1e9
        merged.setdefault((e.version, start), {})["estimated"] = e
    body = []
    for (version, start), found in sorted(merged.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        e = found.get("estimated")
        realized = found.get("realized", {})
        metric = (
            e.metric
            if e is not None
            else next((k for k in ("auc", "accuracy") if k in realized), "")
        )
        if e is not None and math.isfinite(e.estimate):
            region = "yes" if e.in_region else "<strong>out of region</strong>"
            estimate = (
                f"<td>{e.estimate:.4f}</td><td>{_num(e.low, 4)} – {_num(e.high, 4)}</td>"
                f'<td>{_num(e.baseline, 4)}</td><td title="{escape(e.reason)}">'
                f"{region}</td><td>{e.n_rows:,}</td>"
            )
        else:
            why = f' title="{escape(e.reason)}"' if e is not None else ""
            estimate = f'<td colspan="5"{why}>no estimate</td>'
        labelled = realized.get("labelled rows", 0)
        truth = (
            f"<td>{_num(realized.get(metric, math.nan), 4)}</td><td>{labelled:,.0f}</td>"
            if labelled
            else '<td colspan="2">no labels yet</td>'
        )
        state = ' class="down"' if e is not None and not e.in_region else ""
        body.append(
            f"<tr{state}><td>v{escape(version)}</td><td>{_stamp(start)}</td>"
            f"<td>{escape(metric)}</td>{estimate}{truth}</tr>"
        )
    return (
        head + '<table class="performance"><thead><tr><th>version</th><th>window from '
        "(UTC)</th><th>metric</th><th>estimated</th><th>band</th><th>holdout</th>"
        "<th>in region</th><th>rows</th><th>realized</th><th>labelled rows</th></tr>"
        f"</thead><tbody>{''.join(body)}</tbody></table>{note}</section>"
    )


def _path(problem: str) -> str:
    return "/".join(quote(part, safe="") for part in problem.split("/"))


def _pct(value: float) -> str:
    if not math.isfinite(value):
        return "–"
    return f"{value:.2%}" if 0 < value < 0.01 else f"{value:.1%}"


def _num(value: float, digits: int = 1) -> str:
    return "–" if not math.isfinite(value) else f"{value:,.{digits}f}"


def _stamp(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t))


def _ago(t: float | None, now: float) -> str:
    if t is None:
        return "never"
    return f'<time datetime="{_stamp(t)}">{_span(max(now - t, 0))} ago</time>'


def _span(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"
