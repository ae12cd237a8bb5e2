"""Which error becomes which response: one table for the whole app."""

from __future__ import annotations

import logging

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from mara.errors import RequestError

__all__ = ["HANDLERS", "json_response"]

log = logging.getLogger("mara.serve")


def json_response(body: object, status_code: int = 200) -> Response:
    """A JSON response rendered by orjson."""
    return Response(orjson.dumps(body), status_code=status_code, media_type="application/json")


async def on_request_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestError)
    body = {"error": type(exc).__name__, "detail": str(exc)}
    return json_response(body, exc.status_code)


async def on_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return json_response({"error": "HTTPException", "detail": exc.detail}, exc.status_code)


async def on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s", request.url.path)
    body = {"error": "InternalError", "detail": f"{type(exc).__name__}: {exc}"}
    return json_response(body, 500)


HANDLERS = {
    RequestError: on_request_error,
    HTTPException: on_http_exception,
    Exception: on_unexpected,
}
