"""Logging off the request path: handlers write from a thread, a request only queues its line."""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import queue
from collections.abc import Iterator

__all__ = ["logging_off_the_request_path"]


@contextlib.contextmanager
def logging_off_the_request_path() -> Iterator[None]:
    """For the block, the root logger queues records; a listener thread hands them on.

    A request then never waits for a slow stderr (a pipe nobody reads fast, a terminal): its
    log line costs the formatting and a queue put. On exit every queued record is written and
    the root logger gets its handlers back.
    """
    root = logging.getLogger()
    handlers = list(root.handlers)
    if not handlers:  # nothing would be written anyway
        yield
        return
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
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
