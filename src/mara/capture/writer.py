"""CaptureWriter: an append-only JSONL log of served batches, fed by a background thread."""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from pathlib import Path
from typing import Any

import orjson

__all__ = ["CaptureWriter", "captured_dir"]

log = logging.getLogger(__name__)
_STOP = object()


def captured_dir(home: Path, phase: str, prob: str) -> Path:
    """Where a problem's captured traffic lives under a project home."""
    return Path(home) / "data" / "captured_data" / phase / prob


class CaptureWriter:
    """Appends one JSON line per served batch to `captured_data/<phase>/<prob>/`.

    `append` only puts the record on a queue, so a response never waits for the disk.
    `close` drains the queue before it returns: nothing accepted is lost on a clean
    shutdown. Each process writes its own files, so several workers never interleave.
    """

    def __init__(self, home: Path, *, max_file_bytes: int = 256 * 2**20):
        self.home = Path(home)
        self.max_file_bytes = max_file_bytes
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._files: dict[tuple[str, str], Any] = {}
        self._thread = threading.Thread(target=self._run, name="mara-capture", daemon=True)
        self._thread.start()
        self.written = 0

    def append(self, phase: str, prob: str, record: dict[str, Any]) -> None:
        """Queue one batch's record; returns at once."""
        self._queue.put((phase, prob, record))

    def close(self) -> None:
        """Write everything queued, then close the files."""
        self._queue.put(_STOP)
        self._thread.join()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                break
            try:
                self._write(*item)
            except Exception:  # a full disk must not stop the writer or the server
                log.exception("capture: could not write a batch")
            if self._queue.empty():
                for file in self._files.values():
                    file.flush()
        for file in self._files.values():
            file.close()
        self._files.clear()

    def _write(self, phase: str, prob: str, record: dict[str, Any]) -> None:
        try:
            line = orjson.dumps(record, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n"
        except orjson.JSONEncodeError:
            # orjson writes at most 254 levels of nesting; a cell may hold more.
            line = json.dumps(record, default=repr).encode() + b"\n"
        file = self._file(phase, prob)
        file.write(line)
        self.written += 1
        if file.tell() >= self.max_file_bytes:
            file.close()
            del self._files[(phase, prob)]

    def _file(self, phase: str, prob: str) -> Any:
        key = (phase, prob)
        if key not in self._files:
            folder = captured_dir(self.home, phase, prob)
            folder.mkdir(parents=True, exist_ok=True)
            stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
            path = folder / f"requests-{stamp}-{os.getpid()}-{time.monotonic_ns()}.jsonl"
            self._files[key] = path.open("ab")
        return self._files[key]
