"""Read captured traffic as a reader must: lines split on b"\\n", a torn last line skipped."""

from __future__ import annotations

import json
from pathlib import Path


def read_captured(folder: Path) -> list[dict]:
    """Every record under `folder`; only the last line of a file may be torn (a crash's mark).

    Split on b"\\n" only: captured text may hold U+2028 and the like, which splitlines() splits.
    """
    records = []
    for path in sorted(folder.glob("requests-*.jsonl")):
        lines = path.read_bytes().split(b"\n")
        for number, line in enumerate(lines, 1):
            if not line:
                continue
            try:
                records.append(json.loads(line))
            except ValueError:
                assert number == len(lines), f"{path.name}: line {number} of {len(lines)} is torn"
    return records


def captured_ids(folder: Path) -> list:
    """The ids of every record under `folder`."""
    return [record["id"] for record in read_captured(folder)]
