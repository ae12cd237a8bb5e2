"""The `mara` command as users run it: a real subprocess per call."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def mara(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mara", "--home", str(home), *args],
        capture_output=True,
        text=True,
        timeout=600,
    )
