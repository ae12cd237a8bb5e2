"""Autopilot: watches labels, drift and the champion, and improves, promotes or rolls back."""

from mara.autopilot.audit import AuditLog
from mara.autopilot.config import AutopilotConfig
from mara.autopilot.pilot import Autopilot

__all__ = ["AuditLog", "Autopilot", "AutopilotConfig"]
