"""ServeOptions: every setting of one server, with its default written once.

`mara serve` builds it from its options, and worker processes (uvicorn's, Ray's replicas)
read it back from the `MARA_*` variables it was written to: one table below names them.
Nothing heavy is imported here, so the CLI reads the defaults without loading the server.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DRAIN_DELAY_S", "GRACE_S", "ServeOptions"]

# Process-level settings of `mara serve` (uvicorn's), not of the app.
DRAIN_DELAY_S = 1.0
GRACE_S = 30.0


@dataclass(frozen=True)
class ServeOptions:
    """What one server answers and how; every worker process builds its app from it."""

    home: Path = Path(".")
    # Largest batch accepted; more rows get 413.
    max_rows: int = 100_000
    # Largest body (None: 1024 bytes per row of max_rows).
    max_body_bytes: int | None = None
    # Predict requests in flight per worker; more get 503 at once.
    max_in_flight: int = 16
    # Seconds for a body to arrive after its headers.
    body_timeout_s: float = 30.0
    capture: bool = True
    # Make each version fast (compiled) before it answers.
    compile_models: bool = True
    # A compile still running after this many seconds is given up (the forest's own
    # predictor answers meanwhile).
    fast_timeout_s: float = 300.0
    # Seconds between asking MLflow where the champion alias points (0: never).
    follow_interval_s: float = 10.0
    # Share of live batches a challenger also scores, and most of a core it may take.
    shadow_sample: float = 1.0
    shadow_cpu_share: float = 0.25
    # Predict needs a token too.
    guard_predict: bool = False

    def to_env(self) -> dict[str, str]:
        """The `MARA_*` variables that carry these options to worker processes."""
        values = dataclasses.asdict(self)
        return {name: _write(values[field]) for field, name in _ENV.items()}

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ServeOptions:
        """The options `to_env` wrote (defaults for what is not set)."""
        defaults = cls()
        found = {}
        for field, name in _ENV.items():
            if name in environ:
                found[field] = _read(environ[name], getattr(defaults, field), field)
        return dataclasses.replace(defaults, **found)


_ENV = {
    "home": "MARA_HOME",
    "max_rows": "MARA_MAX_ROWS",
    "max_body_bytes": "MARA_MAX_BODY_BYTES",
    "max_in_flight": "MARA_MAX_IN_FLIGHT",
    "body_timeout_s": "MARA_BODY_TIMEOUT",
    "capture": "MARA_CAPTURE",
    "compile_models": "MARA_COMPILE",
    "fast_timeout_s": "MARA_FAST_TIMEOUT",
    "follow_interval_s": "MARA_FOLLOW_INTERVAL",
    "shadow_sample": "MARA_SHADOW_SAMPLE",
    "shadow_cpu_share": "MARA_SHADOW_CPU",
    "guard_predict": "MARA_GUARD_PREDICT",
}


def _write(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return "" if value is None else str(value)


def _read(text: str, default: object, field: str) -> object:
    if field == "home":
        return Path(text)
    if isinstance(default, bool):
        return text != "0"
    if field == "max_body_bytes":
        return int(text) if text not in ("", "0") else None
    return type(default)(text)
