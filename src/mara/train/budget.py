"""Budget: a deadline on an injectable clock, so a search can be held to it and tested.

The clock is the process's CPU time by default: the same table gets the same search on a
busy machine as on an idle one (where, one thread computing, CPU and wall time agree).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["Budget"]

Clock = Callable[[], float]


class Budget:
    """`seconds` from now on `clock` (CPU time by default; tests pass a counting clock)."""

    def __init__(self, seconds: float, *, clock: Clock = time.process_time):
        self.clock = clock
        self.seconds = float(seconds)
        self.started = clock()

    def elapsed(self) -> float:
        """Time used since the budget was opened."""
        return self.clock() - self.started

    def remaining(self) -> float:
        """Time left, never below zero."""
        return max(0.0, self.seconds - self.elapsed())

    def exhausted(self) -> bool:
        """Whether the deadline has passed."""
        return self.remaining() <= 0.0

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Time spent in the block is not counted: work done for another step meanwhile."""
        before = self.clock()
        try:
            yield
        finally:
            self.started += self.clock() - before
