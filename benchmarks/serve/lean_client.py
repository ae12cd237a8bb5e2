"""LeanClient: one kept-alive socket that posts pre-encoded requests and reads the answers.

The serving benchmarks time the server with it beside httpx. httpx is a pure-Python client:
building the request, the h11 state machine and reading the answer cost it about a
millisecond of CPU per 1,000-row batch on this machine, on the same cores as the server.
This client does what any client must (one `sendall` of bytes prepared before the clock
starts, then reading the status line, the headers and `Content-Length` bytes), so what it
measures is the server's floor over loopback.
"""

from __future__ import annotations

import socket
from types import TracebackType

__all__ = ["LeanClient"]


class LeanClient:
    """HTTP/1.1 on one persistent connection, for answers with a `Content-Length`."""

    def __init__(self, host: str, port: int, *, timeout_s: float = 120.0):
        self.host = host
        self.sock = socket.create_connection((host, port), timeout=timeout_s)
        # The request goes out in one write, and small answers must not wait for an ACK.
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = self.sock.makefile("rb")

    def request(self, path: str, body: bytes, *, content_type: str = "application/json") -> bytes:
        """A POST request's bytes, ready to `send`: encode it before timing."""
        head = (
            f"POST {path} HTTP/1.1\r\nhost: {self.host}\r\ncontent-type: {content_type}\r\n"
            f"content-length: {len(body)}\r\n\r\n"
        )
        return head.encode("latin-1") + body

    def send(self, request: bytes) -> tuple[int, bytes]:
        """Send a request made by `request`; the answer's status code and body."""
        self.sock.sendall(request)
        status = int(self.reader.readline().split(b" ", 2)[1])
        length = None
        while (line := self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length is None:
            raise ValueError("the answer has no Content-Length; this client reads no other")
        body = self.reader.read(length)
        if len(body) != length:
            raise ConnectionError(f"the connection closed {len(body)} of {length} bytes in")
        return status, body

    def close(self) -> None:
        """Close the connection."""
        self.reader.close()
        self.sock.close()

    def __enter__(self) -> LeanClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
