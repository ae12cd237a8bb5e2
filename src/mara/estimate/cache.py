"""Where a version's fitted estimator is kept, written whole or not at all."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import orjson

from mara.files import replace_whole

__all__ = ["read_cached", "write_cached"]

log = logging.getLogger(__name__)
FORMAT = 1


def read_cached(path: Path) -> dict[str, Any] | None:
    """The cached record, or None when absent, damaged or of another format."""
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    return data if isinstance(data, dict) and data.get("format") == FORMAT else None


def write_cached(path: Path, data: dict[str, Any]) -> bool:
    """Write beside `path`, fsync, rename over it; False (logged) when the disk refuses."""
    body = orjson.dumps({"format": FORMAT, **data}, option=orjson.OPT_SERIALIZE_NUMPY)
    try:
        replace_whole(path, body)
    except OSError as exc:  # a read-only home still estimates, only refits next time
        log.warning("%s: could not keep the fitted estimator (%s)", path, exc)
        return False
    return True
