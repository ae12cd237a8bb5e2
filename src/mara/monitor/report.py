"""`mara report`: one problem's monitoring views as one self-contained HTML file."""

from __future__ import annotations

import time
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path

from mara.errors import DataError
from mara.files import replace_whole
from mara.home import Problem
from mara.model import ModelBundle
from mara.monitor.aggregate import feature_rows, feature_view, overview, problem_view
from mara.monitor.estimated import estimated_rows
from mara.monitor.pages import document, feature_section, overview_section, problem_sections
from mara.monitor.performance import RealizedPerformance
from mara.monitor.store import SummaryStore
from mara.monitor.summary import monitor_dir

__all__ = ["build_report", "registry_champion", "write_report"]


def registry_champion(
    home: Path, phase: str, prob: str
) -> Callable[[], tuple[ModelBundle | None, str | None]]:
    """The `champion` of `build_report` for a problem's registered champion, loaded when
    called (None, None: no champion yet)."""

    def champion() -> tuple[ModelBundle | None, str | None]:
        from mara.registry import Registry

        registry = Registry(home)
        name = Problem(phase, prob).name
        version = registry.champion_version(name)
        if version is None:
            return None, None
        return registry.load(name, version), version

    return champion


def build_report(
    home: Path,
    phase: str,
    prob: str,
    *,
    champion: Callable[[], tuple[ModelBundle | None, str | None]],
    since: float | None = None,
    now: float | None = None,
) -> str:
    """The report's HTML: the problem page with every feature's distributions inlined.

    `champion` returns the served bundle and its version, whose drift detector supplies the
    bins (None, None: no feature views); it is called once the summaries are found, so a
    report of a problem with no traffic fails before any model loads. Only summaries are
    read, and of captured rows only the predictions of labelled batches (realized metrics) and
    a sample of each hour of the last day's traffic, scored again for the estimates.
    """
    now = time.time() if now is None else now
    which = Problem(phase, prob)
    problem = which.path
    store = SummaryStore(home)
    store.refresh()
    if problem not in store.problems():
        raise DataError(
            f"no monitoring summary of {problem} under {monitor_dir(home)}; "
            "serve some traffic first"
        )
    bundle, version = champion()
    realized = RealizedPerformance(home).rows(which, bundle.classes) if bundle else []
    estimated, note = estimated_rows(home, which)
    view = problem_view(store, problem, since=since, now=now)
    detector = bundle.drift if bundle is not None else None
    rows = None
    details = []
    if detector is not None and version is not None:
        profiles = store.profiles(problem, since=view.start)
        rows = feature_rows(profiles, detector, start=view.start, end=view.end)
        categories = bundle.preprocessor.categories_
        for row in rows:
            feature = feature_view(
                profiles,
                detector,
                version=version,
                feature=row.name,
                categories=categories.get(row.name, []),
            )
            details.append(feature_section(feature, row, problem=problem, link=False))
    head = overview(
        store,
        served={problem: version} if version else {},
        now=now,
        window_s=max(now - view.start, 1.0),
    )
    body = (
        overview_section(
            [r for r in head if r.problem == problem],
            now=now,
            window_s=max(now - view.start, 1.0),
            link=False,
        )
        + problem_sections(
            view,
            rows,
            realized,
            estimated=estimated,
            estimate_note=note,
            link=False,
            feature_limit=len(rows) if rows else 0,
        )
        + (
            '<section id="feature-details"><h2>Feature distributions</h2>'
            + "".join(details)
            + "</section>"
            if details
            else ""
        )
    )
    css = files("mara.monitor").joinpath("static", "style.css").read_text()
    return document(f"{problem} · mara report", body, css=css)


def write_report(html: str, path: Path) -> int:
    """Write the report whole or not at all (a temporary file renamed over `path`)."""
    data = html.encode()
    replace_whole(Path(path), data, durable=False)
    return len(data)
