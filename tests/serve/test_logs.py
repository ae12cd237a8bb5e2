"""Logging off the request path: the caller only queues; a listener writes, in order."""

from __future__ import annotations

import logging
import logging.handlers
import threading

import pytest

from mara.serve.logs import logging_off_the_request_path


class BlockedHandler(logging.Handler):
    """A handler stuck in write (a full pipe) until `unblock` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.unblock = threading.Event()
        self.lines: list[str] = []
        self.writer: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        self.unblock.wait()
        self.writer = threading.current_thread().name
        self.lines.append(record.getMessage())


@pytest.fixture
def handler():
    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    for existing in saved:
        root.removeHandler(existing)
    blocked = BlockedHandler()
    root.addHandler(blocked)
    root.setLevel(logging.INFO)
    yield blocked
    blocked.unblock.set()
    root.removeHandler(blocked)
    for existing in saved:
        root.addHandler(existing)
    root.setLevel(level)


def test_a_caller_never_waits_for_a_stuck_handler_and_nothing_is_lost(handler):
    log = logging.getLogger("mara.serve")
    with logging_off_the_request_path():
        for i in range(100):
            log.info("batch %d answered", i)  # would block here if written in this thread
        assert handler.lines == []  # all still queued behind the stuck write
        handler.unblock.set()
    assert handler.lines == [f"batch {i} answered" for i in range(100)]
    assert handler.writer != threading.current_thread().name
    handlers = logging.getLogger().handlers  # given back on exit (beside pytest's own)
    assert handler in handlers
    assert not any(isinstance(h, logging.handlers.QueueHandler) for h in handlers)
