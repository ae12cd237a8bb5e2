"""Charts drawn on the server as inline SVG: nothing for the browser to fetch or run.

Colours and widths are presentation attributes, not `style`, so a strict
Content-Security-Policy (no inline styles) still renders them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from html import escape

import numpy as np

from mara.monitor.aggregate import Series

__all__ = ["bars", "heatmap", "line_chart", "sparkline"]

PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4b5563")
_LEFT, _RIGHT, _TOP, _BOTTOM = 56, 12, 34, 34


def line_chart(
    edges: np.ndarray,
    series: Sequence[Series],
    *,
    title: str,
    unit: str = "",
    threshold: Series | None = None,
    markers: Sequence[tuple[float, str]] = (),
    percent: bool = False,
    width: int = 560,
    height: int = 200,
) -> str:
    """Series over time buckets, each a line; an optional dashed threshold and version marks."""
    x0, x1 = float(edges[0]), float(edges[-1])
    mids = (edges[:-1] + edges[1:]) / 2
    every = [s.values for s in series] + ([threshold.values] if threshold is not None else [])
    finite = np.concatenate([v[np.isfinite(v)] for v in every]) if every else np.empty(0)
    top = float(finite.max()) if len(finite) else 1.0
    bottom = min(0.0, float(finite.min())) if len(finite) else 0.0
    top = top if top > bottom else bottom + 1.0
    plot = _Plot(x0, x1, bottom, top * 1.05, width, height)
    parts = [_frame(plot, title, unit, percent)]
    for t, version in markers:
        x = plot.x(t)
        parts.append(
            f'<line x1="{x:.1f}" y1="{_TOP}" x2="{x:.1f}" y2="{height - _BOTTOM}" '
            f'stroke="#6b7280" stroke-dasharray="2 3"><title>model v{escape(version)} from '
            f"{_clock(t)}</title></line>"
            f'<text x="{x + 2:.1f}" y="{_TOP + 10}" font-size="10" fill="#4b5563">'
            f"v{escape(version)}</text>"
        )
    if threshold is not None:
        parts.append(_polyline(plot, mids, threshold.values, "#111827", dash="5 4"))
    for i, s in enumerate(series):
        parts.append(_polyline(plot, mids, s.values, PALETTE[i % len(PALETTE)]))
    names = [s.name for s in series] + (["threshold"] if threshold is not None else [])
    parts.append(_legend(names, width, dashed_last=threshold is not None))
    return _svg(width, height, title, "".join(parts))


def bars(
    labels: Sequence[str],
    groups: Sequence[tuple[str, np.ndarray]],
    *,
    title: str,
    width: int = 560,
    height: int = 220,
) -> str:
    """Grouped bars of shares: one group per bin, one bar per named distribution."""
    n = max(len(labels), 1)
    top = max([float(v.max()) for _, v in groups if len(v)] + [1e-9])
    plot = _Plot(0, n, 0.0, top * 1.1, width, height)
    parts = [_frame(plot, title, "", True, time_axis=False)]
    slot = (plot.x(1) - plot.x(0)) * 0.8 / max(len(groups), 1)
    base = plot.y(0)
    # One path per distribution keeps a feature with hundreds of bins a few KiB.
    for g, (name, values) in enumerate(groups):
        bars_path = "".join(
            f"M{plot.x(i) + (plot.x(1) - plot.x(0)) * 0.1 + g * slot:.1f} {base:.1f}"
            f"v{plot.y(value) - base:.1f}h{max(slot - 0.5, 0.5):.1f}V{base:.1f}z"
            for i, value in enumerate(values.tolist())
            if value > 0
        )
        parts.append(
            f'<path d="{bars_path}" fill="{PALETTE[g]}"><title>{escape(name)}</title></path>'
        )
    # Labels are up to 12 characters, about 5 px each: skip bins so they never overlap.
    widest = max([len(_short(label)) for label in labels] + [1]) * 5 + 6
    step = max(1, math.ceil(widest / (plot.x(1) - plot.x(0))))
    for i in range(0, n, step):
        x = plot.x(i + 0.5)
        parts.append(
            f'<text x="{x:.1f}" y="{height - _BOTTOM + 12}" font-size="9" '
            f'text-anchor="middle" fill="#374151">{escape(_short(labels[i]))}</text>'
        )
    parts.append(_legend([name for name, _ in groups], width))
    return _svg(width, height, title, "".join(parts))


def heatmap(
    edges: np.ndarray,
    shares: np.ndarray,
    labels: Sequence[str],
    *,
    title: str,
    width: int = 560,
    height: int = 200,
) -> str:
    """Shares per time bucket (columns) and class or bin (rows), darker for more."""
    n_buckets, n_rows = shares.shape if shares.ndim == 2 else (0, 0)
    plot = _Plot(float(edges[0]), float(edges[-1]), 0, max(n_rows, 1), width, height)
    parts = [_frame(plot, title, "", False, y_axis=False)]
    cell_h = plot.y(0) - plot.y(1)
    for b in range(n_buckets):
        x, x_next = plot.x(edges[b]), plot.x(edges[b + 1])
        for r in range(n_rows):
            share = shares[b, r]
            if not np.isfinite(share) or share <= 0:
                continue
            y = plot.y(r + 1)
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(x_next - x, 0.5):.1f}" '
                f'height="{cell_h:.1f}" fill="#1d4ed8" fill-opacity="{0.1 + 0.9 * share:.2f}">'
                f"<title>{escape(labels[r])}: {share:.1%} at {_clock(edges[b])}</title></rect>"
            )
    step = max(1, math.ceil(n_rows / 10))
    for r in range(0, n_rows, step):
        parts.append(
            f'<text x="{_LEFT - 4}" y="{plot.y(r + 0.5) + 3:.1f}" font-size="9" '
            f'text-anchor="end" fill="#374151">{escape(_short(labels[r]))}</text>'
        )
    return _svg(width, height, title, "".join(parts))


def sparkline(values: np.ndarray, *, width: int = 120, height: int = 24) -> str:
    """A small line with no axes, for a table cell."""
    finite = values[np.isfinite(values)]
    if not len(finite):
        return f'<svg width="{width}" height="{height}" role="img"></svg>'
    low, high = min(0.0, float(finite.min())), float(finite.max())
    high = high if high > low else low + 1.0
    xs = np.linspace(1, width - 1, len(values))
    points = " ".join(
        f"{x:.1f},{height - 1 - (v - low) / (high - low) * (height - 2):.1f}"
        for x, v in zip(xs, values, strict=True)
        if np.isfinite(v)
    )
    return (
        f'<svg width="{width}" height="{height}" role="img"><polyline points="{points}" '
        f'fill="none" stroke="#2563eb" stroke-width="1.5"/></svg>'
    )


class _Plot:
    """Maps data to pixels inside the margins."""

    def __init__(self, x0: float, x1: float, y0: float, y1: float, width: int, height: int):
        self.x0, self.x1, self.y0, self.y1 = x0, x1 if x1 > x0 else x0 + 1, y0, y1
        self.width, self.height = width, height

    def x(self, value: float) -> float:
        share = (value - self.x0) / (self.x1 - self.x0)
        return _LEFT + share * (self.width - _LEFT - _RIGHT)

    def y(self, value: float) -> float:
        share = (value - self.y0) / (self.y1 - self.y0)
        return self.height - _BOTTOM - share * (self.height - _TOP - _BOTTOM)


def _frame(
    plot: _Plot,
    title: str,
    unit: str,
    percent: bool,
    *,
    time_axis: bool = True,
    y_axis: bool = True,
) -> str:
    w, h = plot.width, plot.height
    parts = [
        f'<text x="{_LEFT}" y="14" font-size="12" font-weight="600" fill="#111827">'
        f"{escape(title)}</text>",
        f'<line x1="{_LEFT}" y1="{h - _BOTTOM}" x2="{w - _RIGHT}" y2="{h - _BOTTOM}" '
        'stroke="#9ca3af"/>',
    ]
    if y_axis:
        for tick in np.linspace(plot.y0, plot.y1, 4):
            y = plot.y(tick)
            digits = 0 if plot.y1 >= 0.05 else 2
            label = f"{tick:.{digits}%}" if percent else f"{tick:.3g}{unit}"
            parts.append(
                f'<line x1="{_LEFT}" y1="{y:.1f}" x2="{w - _RIGHT}" y2="{y:.1f}" '
                f'stroke="#e5e7eb"/><text x="{_LEFT - 4}" y="{y + 3:.1f}" font-size="9" '
                f'text-anchor="end" fill="#374151">{escape(label)}</text>'
            )
    if time_axis:
        for tick in np.linspace(plot.x0, plot.x1, 5):
            parts.append(
                f'<text x="{plot.x(tick):.1f}" y="{h - _BOTTOM + 14}" font-size="9" '
                f'text-anchor="middle" fill="#374151">{_clock(tick, plot.x1 - plot.x0)}</text>'
            )
    return "".join(parts)


def _polyline(plot: _Plot, xs: np.ndarray, ys: np.ndarray, colour: str, *, dash: str = "") -> str:
    """Runs of finite points as polylines; a single point as a dot."""
    parts, run = [], []
    for x, y in zip(xs.tolist(), ys.tolist(), strict=True):
        if math.isfinite(y):
            run.append(f"{plot.x(x):.1f},{plot.y(y):.1f}")
            continue
        parts.append(run)
        run = []
    parts.append(run)
    dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
    out = []
    for points in parts:
        if len(points) == 1:
            cx, cy = points[0].split(",")
            out.append(f'<circle cx="{cx}" cy="{cy}" r="2" fill="{colour}"/>')
        elif points:
            out.append(
                f'<polyline points="{" ".join(points)}" fill="none" stroke="{colour}" '
                f'stroke-width="1.6"{dash_attr}/>'
            )
    return "".join(out)


def _legend(names: Sequence[str], width: int, *, dashed_last: bool = False) -> str:
    parts, x = [], width - _RIGHT
    for i, name in reversed(list(enumerate(names))):
        x -= 12 + 6 * len(name)
        dashed = dashed_last and i == len(names) - 1
        colour = "#111827" if dashed else PALETTE[i % len(PALETTE)]
        dash = ' stroke-dasharray="3 2"' if dashed else ""
        parts.append(
            f'<line x1="{x}" y1="24" x2="{x + 9}" y2="24" stroke="{colour}" stroke-width="2"'
            f'{dash}/><text x="{x + 11}" y="27" font-size="9" fill="#374151">'
            f"{escape(name)}</text>"
        )
    return "".join(parts)


def _svg(width: int, height: int, title: str, body: str) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg">{body}</svg>'
    )


def _clock(t: float, span: float = 86400.0) -> str:
    """A time label (UTC) as precise as a chart spanning `span` seconds needs."""
    pattern = "%H:%M:%S" if span < 3600 else "%H:%M" if span < 2 * 86400 else "%m-%d %H:%M"
    return time.strftime(pattern, time.gmtime(t))


def _short(label: str, limit: int = 12) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"
