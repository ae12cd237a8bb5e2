"""CaptureWriter: an append-only JSONL log of served batches, written before the answer goes out.

A line is one JSON object: the server's fields (`id`, `received_at`, `model_version`,
`predictions`, `drift`, `drift_report`, `quality`, `server_ms`) and, under `request`, the
request body exactly as it arrived (`append_request`), so the rows are never encoded again on
the request path. Records written whole with `append` carry `columns` and `rows` themselves.
`mara.capture.index` and `mara.capture.shadow` read them.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

import orjson

from mara.files import new_file_name, open_appending, write_all
from mara.home import Home, Problem
from mara.outcome import Outcome

__all__ = ["CaptureWriter", "answer_header", "captured_dir", "encode_record", "encode_request"]

log = logging.getLogger(__name__)


def captured_dir(home: Path, phase: str, prob: str) -> Path:
    """Where a problem's captured traffic lives under a project home."""
    return Home(home).captured(Problem(phase, prob))


def answer_header(outcome: Outcome) -> dict[str, Any]:
    """The server's fields of an answered batch's line; its request body follows them."""
    report, quality = outcome.report, outcome.quality
    return {
        "id": outcome.id,
        "received_at": outcome.at,
        "model_version": outcome.version,
        "predictions": outcome.predictions,
        "drift": outcome.drift,
        "drift_report": report.as_dict() if report is not None else None,
        "quality": quality.as_dict() if quality is not None else None,
        "server_ms": round(outcome.seconds * 1000, 3),
    }


def encode_record(record: dict[str, Any]) -> bytes:
    """One record as one JSON line, ending in b"\\n"."""
    try:
        return orjson.dumps(record, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n"
    except orjson.JSONEncodeError:
        # orjson writes at most 254 levels of nesting; a cell may hold more.
        return json.dumps(record, default=repr).encode() + b"\n"


def encode_request(header: dict[str, Any], body: bytes) -> bytes:
    """A served batch as one JSON line: `header`'s fields and the body as sent under "request".

    `body` must be the JSON text the server parsed. A raw newline in JSON text can only be
    whitespace between tokens (inside a string it must be escaped), so it becomes a space and
    the record stays on one line.
    """
    if not header:
        raise ValueError("a captured batch needs a header (its id at least)")
    head = encode_record(header)  # b"{...}\n"
    return b"".join((head[:-2], b',"request":', body.replace(b"\n", b" "), b"}\n"))


class CaptureWriter:
    """Appends one JSON line per served batch to `captured_data/<phase>/<prob>/`.

    `append` encodes the record and hands the whole line to the kernel with one unbuffered
    `write(2)` on an `O_APPEND` descriptor, and returns only then: once a handler has called
    it, the batch is in the file, and a SIGKILL of the server cannot take it back (a power cut
    can; nothing here calls fsync). There is no queue, so memory does not grow with a burst or
    a slow disk: a slow disk slows the request that writes (back-pressure), and the in-flight
    limit turns that into 503s for the excess.

    A write that fails (disk full) is logged and counted as dropped; the answer still goes
    out. The file it failed on is left, so a partial line can only be a file's last line.
    Each process writes its own files, so several workers never interleave.
    """

    def __init__(self, home: Path, *, max_file_bytes: int = 256 * 2**20, stream: str = "requests"):
        self.home = Path(home)
        self.max_file_bytes = max_file_bytes
        # "requests" is the served batches; another stream (the shadow scores) gets a
        # folder of its own beside them, so readers of one never see the other's lines.
        self.stream = stream
        self._files: dict[Problem, tuple[int, Path]] = {}
        self._sizes: dict[Problem, int] = {}
        self._lock = threading.Lock()
        self.written = 0
        self.written_bytes = 0
        self.dropped = 0

    def append(self, problem: Problem, record: dict[str, Any]) -> int:
        """Write one batch's record to the OS; the bytes written (0 if it was dropped)."""
        return self._write(problem, encode_record(record))

    def append_request(self, problem: Problem, header: dict[str, Any], body: bytes) -> int:
        """Write one batch as its header and request body as sent; the bytes written (0: dropped).

        The rows are copied, not encoded: the cost is a copy of the body, whatever its size.
        """
        return self._write(problem, encode_request(header, body))

    def append_answer(self, outcome: Outcome, body: bytes) -> int:
        """Write an answered batch: its facts (`answer_header`) and its body as sent."""
        return self.append_request(outcome.problem, answer_header(outcome), body)

    def _write(self, key: Problem, line: bytes) -> int:
        with self._lock:
            try:
                fd = self._fd(key)
                write_all(fd, line)
            except OSError as exc:
                self.dropped += 1
                log.error("capture: could not write a batch of %s: %s", key, exc)
                self._close(key)  # a torn line, if any, stays the last line of its file
                return 0
            self.written += 1
            self.written_bytes += len(line)
            self._sizes[key] += len(line)
            if self._sizes[key] >= self.max_file_bytes:
                self._close(key)
        return len(line)

    def close(self) -> None:
        """Close the files; every appended record is already in them."""
        with self._lock:
            for key in list(self._files):
                self._close(key)

    def paths(self) -> list[Path]:
        """The files open for writing now."""
        return [path for _, path in self._files.values()]

    def _fd(self, key: Problem) -> int:
        if key not in self._files:
            folder = Home(self.home).captured(key)
            if self.stream != "requests":
                folder = folder / self.stream
            path = folder / new_file_name(self.stream)
            fd = open_appending(path)
            self._files[key] = (fd, path)
            self._sizes[key] = 0
        return self._files[key][0]

    def _close(self, key: Problem) -> None:
        entry = self._files.pop(key, None)
        self._sizes.pop(key, None)
        if entry is not None:
            os.close(entry[0])
