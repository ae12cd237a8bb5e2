"""What the benchmark scripts share: the line naming the machine and its load, and a results
file written beside the script and shown.

The scripts run as files (`python benchmarks/<name>/<script>.py`), not as a package: each puts
this folder on its path before importing this module.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path


def machine() -> str:
    """One line about where the figures were measured."""
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{len(os.sched_getaffinity(0))} cores, {platform.machine()}, "
        f"Python {platform.python_version()}, load average at the end {load}"
    )


def publish(path: Path, lines: list[str]) -> None:
    """Write a markdown results file, line by line, and print it."""
    text = "\n".join(lines)
    path.write_text(text + "\n")
    print(text)
