"""AppendedLines: the complete lines of an append-only file, read on from a byte offset.

Lines are split on b"\\n" only (captured text may hold U+2028, which `str.splitlines()`
splits on). A last line without its newline is still being written, or was torn by a crash:
it is not read, so the next read starts at it and takes it whole once it is finished.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Generic, TypeVar

__all__ = ["AppendedLines"]

log = logging.getLogger(__name__)

T = TypeVar("T")

READ_CHUNK = 8 * 2**20


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
