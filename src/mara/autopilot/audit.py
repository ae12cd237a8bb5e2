"""AuditLog: every autopilot decision and its evidence, on disk and in MLflow."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import orjson

from mara.files import AppendedLines, append_line
from mara.home import Home, Problem
from mara.registry import Registry

__all__ = ["AuditLog"]


class AuditLog:
    """Appends one JSON line per decision to `data/autopilot/<phase>/<prob>/audit.jsonl`
    and records it as an MLflow run (tag `mara.kind=autopilot`) in the problem's experiment.
    """

    def __init__(self, home: Path, registry: Registry):
        self.home = Path(home)
        self.registry = registry

    def path(self, phase: str, prob: str) -> Path:
        """The problem's audit log."""
        return Home(self.home).audit(Problem(phase, prob))

    def record(self, phase: str, prob: str, action: str, reason: str, **evidence: Any) -> dict:
        """Keep one decision: `action` (improve, promote, rollback, baked, ...) and why."""
        entry = {"at": time.time(), "action": action, "reason": reason, "evidence": evidence}
        line = orjson.dumps(entry, default=str, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n"
        append_line(self.path(phase, prob), line)
        name = f"{phase}_{prob}"
        with self.registry.run(name, f"autopilot {action} {name}"):
            numbers = {k: float(v) for k, v in evidence.items() if _is_number(v)}
            self.registry.log(
                params={},
                metrics=numbers,
                tags={
                    "phase": phase,
                    "prob": prob,
                    "mara.kind": "autopilot",
                    "mara.action": action,
                    "mara.reason": reason[:4000],
                },
            )
        return entry

    def read(self, phase: str, prob: str) -> list[dict]:
        """Every whole entry, oldest first (a torn or damaged line is passed over)."""
        path = self.path(phase, prob)
        if not path.exists():
            return []
        return [entry for _, _, entry in AppendedLines(path, _entry)]


def _entry(line: bytes) -> dict | None:
    try:
        entry = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return entry if isinstance(entry, dict) else None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
