"""Logging off the request path: handlers write from a thread, a request only queues its line."""

from __future__ import annotations

import collections
import contextlib
import logging
import logging.handlers
import queue
import time
from collections.abc import Iterator
from typing import Any

__all__ = ["logging_off_the_request_path"]

_POLL_S = 0.05


class _PolledQueue:
    """A queue whose reader wakes on the clock: a put never wakes a thread.

    A blocking queue would wake the listener on every request's line, and the two threads
    would then trade the interpreter lock once per request.
    """

    def __init__(self) -> None:
        self._items: collections.deque[Any] = collections.deque()

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)  # deque appends and pops are atomic

    def get(self, block: bool = True) -> Any:
        while True:
            try:
                return self._items.popleft()
            except IndexError:
                if not block:
                    raise queue.Empty from None
                time.sleep(_POLL_S)


@contextlib.contextmanager
def logging_off_the_request_path() -> Iterator[None]:
    """For the block, the root logger queues records; a listener thread hands them on.

    A request then never waits for a slow stderr (a pipe nobody reads fast, a terminal): its
    log line costs the formatting and an append; the listener takes the lines every 50 ms. On
    exit every queued record is written and the root logger gets its handlers back.
    """
    root = logging.getLogger()
    handlers = list(root.handlers)
    if not handlers:  # nothing would be written anyway
        yield
        return
    records = _PolledQueue()
    listener = logging.handlers.QueueListener(records, *handlers, respect_handler_level=True)
    queued = logging.handlers.QueueHandler(records)
    for handler in handlers:
        root.removeHandler(handler)
    root.addHandler(queued)
    listener.start()
    try:
        yield
    finally:
        root.removeHandler(queued)
        listener.stop()  # writes what is queued
        for handler in handlers:
            root.addHandler(handler)
