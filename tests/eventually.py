"""eventually(): the one wait-until loop of the tests, bounded, naming what it waited for."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(
    check: Callable[[], T],
    what: str,
    *,
    timeout_s: float = 60.0,
    every_s: float = 0.2,
    detail: Callable[[], str] | None = None,
) -> T:
    """Call `check` until it returns a true value, and return that value.

    After `timeout_s` an AssertionError says `what` was waited for, with `detail()` (a log's
    tail, the last answer) when given. Exceptions from `check` are not caught: a check that
    may fail while something starts catches its own.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() >= deadline:
            extra = f":\n{detail()}" if detail is not None else ""
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}{extra}")
        time.sleep(every_s)
