"""Monitoring: per-batch summaries every worker writes, the dashboard and the report on them."""

from mara.monitor.store import SummaryStore
from mara.monitor.summary import SummaryWriter, batch_record, error_record, monitor_dir

__all__ = ["SummaryStore", "SummaryWriter", "batch_record", "error_record", "monitor_dir"]
