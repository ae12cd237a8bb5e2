"""Which error becomes which response: one table for the whole app."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from mara.errors import RequestError

__all__ = ["HANDLERS", "json_response"]

log = logging.getLogger("mara.serve")


def json_response(
    body: object, status_code: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """A JSON response rendered by orjson."""
    return Response(
        orjson.dumps(body),
        status_code=status_code,
        headers=headers,
        media_type="application/json",
    )


async def on_request_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestError)
    body = {"error": type(exc).__name__, "detail": str(exc)}
    return json_response(body, exc.status_code)


async def on_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    body = {"error": "HTTPException", "detail": exc.detail}
    return json_response(body, exc.status_code, exc.headers)  # 405 keeps its Allow header


async def on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s", request.url.path)
    body = {"error": "InternalError", "detail": f"{type(exc).__name__}: {exc}"}
    return json_response(body, 500)


HANDLERS = {
    RequestError: on_request_error,
    HTTPException: on_http_exception,
    Exception: on_unexpected,
}
