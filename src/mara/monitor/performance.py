"""Model performance as the pages show it: realized where labels have been joined."""

from __future__ import annotations

from collections.abc import Mapping

from mara.monitor.aggregate import PerformanceRow, performance_rows

__all__ = ["realized_performance"]


def realized_performance(
    problem: str, realized: Mapping[tuple[str, float], Mapping[str, float]] | None = None
) -> list[PerformanceRow]:
    """Realized metrics of `problem` per (model version, window start), oldest first.

    The label ledger is the source of `realized`; until it is wired here, no label has been
    joined and the pages say so.
    """
    return performance_rows(realized or {})
