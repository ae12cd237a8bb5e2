"""Time windows given by people: `15m`, `24h`, `7d`, or an ISO date and time (UTC)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from mara.errors import RequestError

__all__ = ["BadWindow", "parse_duration", "parse_since"]

_UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d)\s*$")


class BadWindow(RequestError):
    """A window or start time that cannot be read."""

    status_code = 400


def parse_duration(text: str) -> float:
    """Seconds in `30s`, `15m`, `2h`, `7d`; BadWindow otherwise."""
    match = _DURATION.match(text)
    if match is None or float(match.group(1)) <= 0:
        raise BadWindow(f"cannot read {text!r} as a duration; use e.g. 30s, 15m, 2h or 7d")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_since(text: str, *, now: float) -> float:
    """Epoch seconds from a duration back from `now`, or from an ISO date/time (UTC if naive)."""
    if _DURATION.match(text):
        return now - parse_duration(text)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadWindow(
            f"cannot read {text!r} as a start; use a duration (24h, 7d) or an ISO date "
            "(2026-11-27 or 2026-11-27T04:00)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
