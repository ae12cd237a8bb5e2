"""Who may call what: bearer tokens, their scopes, and the one table of which route needs which.

Tokens come from `MARA_TOKENS_FILE` (one `name:secret[:scope,scope]` a line, `#` comments) or
`MARA_TOKEN` (one secret, named "default", every scope); never from the command line. A line
without scopes grants every scope. The secret is compared in constant time, never logged,
never echoed; only the credential's name travels further (the label ledger records it).

With no token configured, every route is open: `mara serve` refuses to start that way on an
address other than loopback unless told to (`--insecure-open`). Once a token is configured:

| route                          | needs                                       |
|--------------------------------|---------------------------------------------|
| GET  /health                   | nothing                                     |
| POST /<phase>/<prob>/predict   | nothing; `predict` with MARA_GUARD_PREDICT=1 |
| GET  /openapi.json             | as predict                                  |
| POST /<phase>/<prob>/labels    | `labels`                                    |
| GET  /metrics                  | `metrics`                                   |
| GET  /dashboard, its pages     | `dashboard` (bearer, or the login cookie)   |
| GET  /dashboard/static/*, GET|POST /dashboard/login, /dashboard/logout | nothing |

No credential: 401 with `WWW-Authenticate: Bearer` (a browser asking for a dashboard page is
sent to the login form instead); a wrong one: 401; a right one without the scope: 403.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from mara.errors import MaraError
from mara.serve.errors import json_response

__all__ = [
    "ADMIN",
    "ANONYMOUS",
    "DASHBOARD",
    "LABELS",
    "METRICS",
    "PREDICT",
    "ROUTE_SCOPES",
    "SCOPES",
    "SESSION_COOKIE",
    "Auth",
    "Credential",
    "TokenError",
    "guarded",
    "is_loopback",
    "load_credentials",
    "sender",
]

PREDICT, LABELS, DASHBOARD, METRICS, ADMIN = "predict", "labels", "dashboard", "metrics", "admin"
SCOPES = frozenset({PREDICT, LABELS, DASHBOARD, METRICS, ADMIN})
OPEN = None  # a route anyone may call
# The name a label set is recorded under when the server runs without tokens.
ANONYMOUS = "anonymous"
SESSION_COOKIE = "mara_session"
SESSION_S = 12 * 3600
MIN_SECRET_CHARS = 16
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
# What a phase or problem name may be: never "..", never a separator, never a control byte.
_PATH_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")

# The one table: a route's path -> the scope it needs (OPEN: none). PREDICT is needed only
# when predict is guarded; every route of the app must be listed (guarded() checks).
ROUTE_SCOPES: Mapping[str, str | None] = {
    "/health": OPEN,
    "/{phase}/{prob}/predict": PREDICT,
    "/openapi.json": PREDICT,
    "/{phase}/{prob}/labels": LABELS,
    "/metrics": METRICS,
    "/dashboard": DASHBOARD,
    "/dashboard/{phase}/{prob}": DASHBOARD,
    "/dashboard/{phase}/{prob}/features/{feature:path}": DASHBOARD,
    "/dashboard/static/{name}": OPEN,
    "/dashboard/login": OPEN,
    "/dashboard/logout": OPEN,
}


class TokenError(MaraError):
    """The tokens file or variable cannot be used as given."""


@dataclass(frozen=True)
class Credential:
    """One named secret and what it may do. The secret never leaves this object."""

    name: str
    secret: bytes
    scopes: frozenset[str]

    def __repr__(self) -> str:  # a credential in a traceback or a log shows no secret
        return f"Credential(name={self.name!r}, scopes={sorted(self.scopes)})"


def load_credentials(environ: Mapping[str, str]) -> tuple[Credential, ...]:
    """The credentials `MARA_TOKENS_FILE` and `MARA_TOKEN` give (TokenError when malformed)."""
    found: list[Credential] = []
    path = environ.get("MARA_TOKENS_FILE")
    if path:
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise TokenError(f"cannot read MARA_TOKENS_FILE {path}: {exc.strerror}") from None
        found.extend(_parse_lines(text, path))
    if environ.get("MARA_TOKEN"):
        found.append(_credential("default", environ["MARA_TOKEN"], "", "MARA_TOKEN"))
    names = [c.name for c in found]
    if dupes := sorted({n for n in names if names.count(n) > 1}):
        raise TokenError(f"credential name(s) given twice: {', '.join(dupes)}")
    secrets = [c.secret for c in found]
    if len(set(secrets)) != len(secrets):
        raise TokenError("two credentials share one secret: each needs its own")
    return tuple(found)


def _parse_lines(text: str, where: str) -> Iterable[Credential]:
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, rest = line.partition(":")
        secret, _, scopes = rest.partition(":")
        if not sep:
            raise TokenError(f"{where} line {number}: expected name:secret[:scopes]")
        yield _credential(name.strip(), secret.strip(), scopes, f"{where} line {number}")


def _credential(name: str, secret: str, scopes: str, where: str) -> Credential:
    if not _NAME.fullmatch(name):
        raise TokenError(f"{where}: a credential name is 1-64 of A-Z a-z 0-9 _ -, not {name!r}")
    if len(secret) < MIN_SECRET_CHARS or any(c.isspace() or ord(c) < 33 for c in secret):
        # The secret itself is never part of a message.
        raise TokenError(
            f"{where}: the secret of {name!r} must be at least {MIN_SECRET_CHARS} printable "
            "characters without spaces (e.g. `python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'`)"
        )
    granted = frozenset(s.strip() for s in scopes.split(",") if s.strip()) or SCOPES
    if unknown := sorted(granted - SCOPES):
        raise TokenError(f"{where}: unknown scope(s) {unknown}; scopes are {sorted(SCOPES)}")
    return Credential(name, secret.encode(), granted)


def is_loopback(host: str) -> bool:
    """True for an address only this machine reaches (127.0.0.0/8, ::1, localhost)."""
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Auth:
    """The app's credentials and policy: who a request is, and whether it may go on."""

    def __init__(self, credentials: Iterable[Credential], *, guard_predict: bool = False):
        self.credentials = tuple(credentials)
        self.guard_predict = guard_predict
        secrets = b"\0".join(sorted(c.secret for c in self.credentials))
        # Every worker derives the same key from the same tokens; new tokens end old sessions.
        self._session_key = hmac.new(b"mara-session-v1", secrets, hashlib.sha256).digest()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Auth:
        """Credentials from MARA_TOKENS_FILE / MARA_TOKEN; MARA_GUARD_PREDICT=1 guards predict."""
        guard = environ.get("MARA_GUARD_PREDICT") == "1"
        return cls(load_credentials(environ), guard_predict=guard)

    @property
    def enabled(self) -> bool:
        """Whether any token is configured (without one, every route is open)."""
        return bool(self.credentials)

    def match(self, secret: str) -> Credential | None:
        """The credential holding `secret`, compared with every one in constant time."""
        given = secret.encode()
        found = None
        for credential in self.credentials:
            if hmac.compare_digest(given, credential.secret):
                found = credential
        return found

    def by_name(self, name: str) -> Credential | None:
        """The credential named `name`."""
        return next((c for c in self.credentials if c.name == name), None)

    def session(self, credential: Credential, *, now: float | None = None) -> str:
        """A signed cookie value naming the credential, valid for SESSION_S (no secret in it)."""
        expires = int((now or time.time()) + SESSION_S)
        payload = f"{credential.name}.{expires}"
        return f"{payload}.{self._sign(payload)}"

    def from_session(self, value: str, *, now: float | None = None) -> Credential | None:
        """The credential a cookie value names, if its signature holds and it has not expired."""
        payload, _, signature = value.rpartition(".")
        name, _, expires = payload.partition(".")
        if not (signature and expires.isdigit()):
            return None
        if not hmac.compare_digest(signature, self._sign(payload)):
            return None
        if int(expires) < (now or time.time()):
            return None
        return self.by_name(name)

    def _sign(self, payload: str) -> str:
        digest = hmac.new(self._session_key, payload.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def sender(request: Request) -> str:
    """The name of the credential that let this request in (ANONYMOUS without tokens)."""
    return request.scope.get("mara.sender", ANONYMOUS)


Endpoint = Callable[[Request], Awaitable[Response]]


def guarded(routes: Iterable[Route]) -> list[Route]:
    """The routes with each endpoint behind the scope ROUTE_SCOPES gives its path."""
    wrapped = []
    for route in routes:
        if route.path not in ROUTE_SCOPES:
            raise KeyError(f"route {route.path} is missing from mara.serve.auth.ROUTE_SCOPES")
        wrapped.append(
            Route(
                route.path,
                _guard(route.endpoint, ROUTE_SCOPES[route.path]),
                methods=sorted(route.methods or ()),
                name=route.name,
            )
        )
    return wrapped


def _guard(endpoint: Endpoint, scope: str | None) -> Endpoint:
    async def guarded_endpoint(request: Request) -> Response:
        for key in ("phase", "prob"):
            value = request.path_params.get(key)
            if value is not None and not _PATH_NAME.fullmatch(value):
                return _refuse(404, "NotFound", f"no problem named {key}={value!r}")
        auth: Auth | None = getattr(request.app.state, "auth", None)
        if auth is None or not auth.enabled:
            return await endpoint(request)
        if scope is OPEN or (scope == PREDICT and not auth.guard_predict):
            return await endpoint(request)
        credential, tried = _credential_of(request, auth, scope)
        if credential is None:
            if scope == DASHBOARD and "text/html" in request.headers.get("accept", ""):
                target = quote(request.url.path, safe="/")
                return RedirectResponse(f"/dashboard/login?next={target}", status_code=303)
            if tried:
                return _refuse(401, "Unauthorized", "the token is not valid", "invalid_token")
            return _refuse(
                401, "Unauthorized", "this route needs a token: Authorization: Bearer <token>"
            )
        if scope not in credential.scopes:
            return _refuse(
                403,
                "Forbidden",
                f"credential {credential.name!r} lacks the {scope!r} scope",
                "insufficient_scope",
            )
        request.scope["mara.sender"] = credential.name
        return await endpoint(request)

    guarded_endpoint.__name__ = getattr(endpoint, "__name__", "endpoint")
    guarded_endpoint.__doc__ = endpoint.__doc__
    return guarded_endpoint


def _credential_of(request: Request, auth: Auth, scope: str) -> tuple[Credential | None, bool]:
    """The request's credential, and whether it presented one at all."""
    header = request.headers.get("authorization")
    if header is not None:
        kind, _, secret = header.partition(" ")
        if kind.lower() != "bearer" or not secret.strip():
            return None, True
        return auth.match(secret.strip()), True
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie is not None and scope == DASHBOARD:  # the cookie opens the pages, nothing else
        return auth.from_session(cookie), True
    return None, False


def _refuse(status: int, error: str, detail: str, bearer_error: str | None = None) -> Response:
    headers = {}
    if status == 401:
        challenge = 'Bearer realm="mara"'
        if bearer_error:
            challenge += f', error="{bearer_error}"'
        headers["WWW-Authenticate"] = challenge
    elif status == 403:
        headers["WWW-Authenticate"] = f'Bearer realm="mara", error="{bearer_error}"'
    return json_response({"error": error, "detail": detail}, status, headers)
