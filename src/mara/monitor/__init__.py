"""Monitoring: per-batch summaries every worker writes, the dashboard and the report on them."""

from mara.monitor.store import SummaryStore
from mara.monitor.summary import SummaryWriter, monitor_dir, summary_record

__all__ = ["SummaryStore", "SummaryWriter", "monitor_dir", "summary_record"]
