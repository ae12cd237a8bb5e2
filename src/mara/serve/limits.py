"""Limits: what a worker refuses before it does the work, as one ASGI middleware.

- A `Content-Length` over `max_body_bytes`: 413 at once, the body never read, connection closed.
- A body without a length, or longer than it says: cut off at `max_body_bytes` (413).
- A body that has not all arrived `body_timeout_s` after the headers: 408. The slow sender
  holds one in-flight slot until then, never the event loop.
- More than `max_in_flight` predict requests at once in this worker: 503 with `Retry-After`,
  at once, the body never read.
- While the process drains (after SIGTERM or SIGINT): `/health` answers 503, and every
  response says `Connection: close` so clients move to another server.

`/health`, `/metrics` and `/openapi.json` are never counted against the in-flight limit: a
load balancer and a scraper must see an overloaded worker as such.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import orjson
from prometheus_client import Counter, Gauge

from mara.errors import BatchTooLarge, RequestError
from mara.serve.drain import DRAIN, Drain
from mara.serve.options import ServeOptions

__all__ = [
    "DEFAULT_SHADOW_CPU_SHARE",
    "BodyTimeout",
    "DEFAULT_BODY_BYTES_PER_ROW",
    "DEFAULT_BODY_TIMEOUT_S",
    "DEFAULT_MAX_IN_FLIGHT",
    "Limits",
    "LimitsMiddleware",
]

# Shadow scoring of a challenger may use at most this share of one core per worker.
DEFAULT_SHADOW_CPU_SHARE = ServeOptions.shadow_cpu_share
DEFAULT_MAX_IN_FLIGHT = ServeOptions.max_in_flight
DEFAULT_BODY_TIMEOUT_S = ServeOptions.body_timeout_s
DEFAULT_BODY_BYTES_PER_ROW = 1024  # the body limit is --max-rows times this unless set
_UNCOUNTED = frozenset({"/health", "/metrics", "/openapi.json"})

REFUSED = Counter(
    "mara_refused_total",
    "Requests refused before the work: in_flight (503), body_too_large (413), body_timeout (408)",
    ("reason",),
)
IN_FLIGHT = Gauge(
    "mara_in_flight", "Predict requests in flight, summed over workers", multiprocess_mode="livesum"
)


class BodyTimeout(RequestError):
    """The request body did not arrive within the body timeout (408)."""

    status_code = 408


@dataclass(frozen=True)
class Limits:
    """A worker's limits; see the module docstring for what happens at each."""

    max_body_bytes: int
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT
    body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S
    retry_after_s: int = 1

    @classmethod
    def for_rows(cls, max_rows: int, **options: Any) -> Limits:
        """Limits whose body limit follows from the row limit unless `max_body_bytes` is given."""
        body = options.pop("max_body_bytes", None) or max_rows * DEFAULT_BODY_BYTES_PER_ROW
        return cls(max_body_bytes=body, **options)


class LimitsMiddleware:
    """Applies `Limits` to every HTTP request of one worker."""

    def __init__(self, app: Any, *, limits: Limits, drain: Drain = DRAIN):
        self.app = app
        self.limits = limits
        self.drain = drain
        self.in_flight = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if self.drain.draining:
            send = _with_connection_close(send)
            if path == "/health":
                await _refuse(send, 503, "Draining", "this server is shutting down", self.limits)
                return
        if path in _UNCOUNTED:
            await self.app(scope, receive, send)
            return
        limits = self.limits
        length = _content_length(scope)
        if length is not None and length > limits.max_body_bytes:
            REFUSED.labels("body_too_large").inc()
            detail = f"body of {length} bytes; this server takes at most {limits.max_body_bytes}"
            await _refuse(_with_connection_close(send), 413, "BatchTooLarge", detail, limits)
            return
        if self.in_flight >= limits.max_in_flight:
            REFUSED.labels("in_flight").inc()
            detail = f"{self.in_flight} requests in flight, the most this worker takes; retry"
            await _refuse(send, 503, "Overloaded", detail, limits)
            return
        self.in_flight += 1
        IN_FLIGHT.inc()
        body = _BoundedBody(receive, limits)
        try:
            await self.app(scope, body.receive, body.send_through(send))
        finally:
            self.in_flight -= 1
            IN_FLIGHT.dec()


class _BoundedBody:
    """A `receive` that enforces the body size and time limits, and the `send` to go with it."""

    def __init__(self, receive: Any, limits: Limits):
        self._receive = receive
        self._limits = limits
        self._deadline = asyncio.get_running_loop().time() + limits.body_timeout_s
        self._received = 0
        self._complete = False
        self.cut_off = False  # the rest of the body was not read: the connection must close

    async def receive(self) -> dict[str, Any]:
        if self._complete:  # only a disconnect is left to wait for: no deadline
            return await self._receive()
        try:
            async with asyncio.timeout_at(self._deadline):
                message = await self._receive()
        except TimeoutError:
            self.cut_off = True
            REFUSED.labels("body_timeout").inc()
            raise BodyTimeout(
                f"the body did not arrive within {self._limits.body_timeout_s:g} s"
            ) from None
        if message["type"] == "http.request":
            self._received += len(message.get("body", b""))
            self._complete = not message.get("more_body", False)
            if self._received > self._limits.max_body_bytes:
                self.cut_off = True
                REFUSED.labels("body_too_large").inc()
                raise BatchTooLarge(
                    f"body over {self._limits.max_body_bytes} bytes, the most this server takes"
                )
        return message

    def send_through(self, send: Any) -> Any:
        async def guarded(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and self.cut_off:
                message = _closing(message)
            await send(message)

        return guarded


def _content_length(scope: dict[str, Any]) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:  # the HTTP parser refuses these before the app sees them
                return None
    return None


def _closing(message: dict[str, Any]) -> dict[str, Any]:
    return {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}


def _with_connection_close(send: Any) -> Any:
    async def closing(message: dict[str, Any]) -> None:
        await send(_closing(message) if message["type"] == "http.response.start" else message)

    return closing


async def _refuse(send: Any, status: int, error: str, detail: str, limits: Limits) -> None:
    body = orjson.dumps({"error": error, "detail": detail})
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    if status == 503:
        headers.append((b"retry-after", b"%d" % limits.retry_after_s))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
