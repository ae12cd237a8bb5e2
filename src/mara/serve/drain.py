"""Drain: whether this server process has been asked to stop, shared by the server and the app."""

from __future__ import annotations

import time

__all__ = ["DRAIN", "Drain"]


class Drain:
    """Set once, when SIGTERM or SIGINT arrives; never cleared in the process's life."""

    def __init__(self) -> None:
        self.since: float | None = None

    @property
    def draining(self) -> bool:
        """True once the process has been asked to stop."""
        return self.since is not None

    def begin(self) -> None:
        """Mark the process as draining (a signal handler may call it; it only sets a field)."""
        if self.since is None:
            self.since = time.monotonic()


# One server per process: the signal handler and the app's middleware meet here.
DRAIN = Drain()
