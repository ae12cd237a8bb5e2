"""Files that are only appended to, or replaced whole: the ground floor of every store.

Capture, the monitor's summaries, the label ledger and the autopilot's audit log append
lines; caches, indexes, ledger sets and reports replace a file whole. Both are written so
that a reader never sees half of anything, and read so that a torn or damaged line (a crash
mid-write, a disk error) is passed over, never fatal:

- `append_line` / `open_appending` + `write_all`: whole lines with `write(2)` on an
  `O_APPEND` descriptor; after a crash a torn line can only be the last one of its file.
- `AppendedLines`: the complete lines of such a file from a byte offset on. Lines are split
  on b"\\n" only (captured text may hold U+2028, which `str.splitlines()` splits on). A last
  line without its newline is still being written, or was torn by a crash: it is not read,
  so the next read starts at it and takes it whole once it is finished.
- `replace_whole`: written beside the target, then renamed over it.
- `new_file_name`: a name no other process or restart will take, sorted by creation time.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Generic, TypeVar

__all__ = [
    "AppendedLines",
    "append_line",
    "new_file_name",
    "open_appending",
    "replace_whole",
    "write_all",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

READ_CHUNK = 8 * 2**20


def open_appending(path: Path) -> int:
    """A write-only `O_APPEND` descriptor on `path`, created (with its folder) if need be."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)


def write_all(fd: int, data: bytes) -> None:
    """write(2) until every byte is taken: a regular file may take fewer at once."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def append_line(path: Path, line: bytes) -> None:
    """Append one whole line (ending in b"\\n") to `path`."""
    fd = open_appending(path)
    try:
        write_all(fd, line)
    finally:
        os.close(fd)


def new_file_name(kind: str, suffix: str = ".jsonl") -> str:
    """`<kind>-<UTC time>-<pid>-<monotonic ns><suffix>`: unique per process and start."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    return f"{kind}-{stamp}-{os.getpid()}-{time.monotonic_ns()}{suffix}"


def replace_whole(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Write `data` beside `path` and rename it over `path`: readers see all or nothing.

    `durable` fsyncs before the rename, so a crash cannot leave an empty file in place of
    the old one (caches that can be rebuilt skip it). Raises OSError, leaving nothing behind.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            if durable:
                file.flush()
                os.fsync(file.fileno())
        os.chmod(partial, 0o644)
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise


class AppendedLines(Generic[T]):
    """Each complete line of `path` from byte `start` on, parsed by `parse` (None: damaged).

    Iterating yields `(offset, length, record)` for every line `parse` took, in file order,
    blank lines passed over; it streams the file in `chunk_size` pieces. Once iterated:
    `end` is where the next read starts, `damaged` counts the lines `parse` refused (each
    logged with its byte offset), and `unfinished` is the length of a last line that has
    no newline yet (0 when the file ends with one).
    """

    def __init__(
        self,
        path: Path,
        parse: Callable[[bytes], T | None],
        *,
        start: int = 0,
        chunk_size: int = READ_CHUNK,
    ):
        self.path = Path(path)
        self.parse = parse
        self.start = start
        self.chunk_size = chunk_size
        self.end = start
        self.damaged = 0
        self.unfinished = 0

    def __iter__(self) -> Iterator[tuple[int, int, T]]:
        self.end, self.damaged, self.unfinished = self.start, 0, 0
        with self.path.open("rb") as file:
            file.seek(self.start)
            pending = b""
            while chunk := file.read(self.chunk_size):
                pending += chunk
                lines = pending.split(b"\n")
                pending = lines.pop()
                for line in lines:
                    offset = self.end
                    self.end += len(line) + 1
                    if not line.strip():
                        continue
                    record = self.parse(line)
                    if record is None:
                        self.damaged += 1
                        log.warning("%s: skipped an unreadable line at byte %d", self.path, offset)
                        continue
                    yield offset, len(line), record
        self.unfinished = len(pending)
