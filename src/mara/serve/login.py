"""The dashboard's way in for a browser: a login form that sets a signed session cookie.

The cookie (HttpOnly, SameSite=Strict, Secure over https) names the credential and an expiry,
signed with a key derived from the configured secrets; it never holds the token, and the token
never appears in a URL. It opens the dashboard's pages only: labels and metrics still need
the bearer token itself.
"""

from __future__ import annotations

from html import escape
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from mara.monitor.pages import document
from mara.serve.auth import DASHBOARD, SESSION_COOKIE, SESSION_S, Auth
from mara.serve.dashboard import CSP

__all__ = ["login_routes"]

_HEADERS = {"Content-Security-Policy": CSP, "Cache-Control": "no-store"}
_MAX_FORM_BYTES = 4096


def _form(message: str = "", next_path: str = "/dashboard", status: int = 200) -> HTMLResponse:
    note = f'<p class="meta" id="login-error">{escape(message)}</p>' if message else ""
    body = (
        "<h1>mara monitoring</h1>"
        f"{note}"
        '<form method="post" action="/dashboard/login" id="login">'
        f'<input type="hidden" name="next" value="{escape(next_path)}">'
        '<label>Token <input type="password" name="token" id="token" autocomplete="off" '
        'required></label> <button type="submit">Sign in</button></form>'
    )
    return HTMLResponse(document("sign in · mara", body), status_code=status, headers=_HEADERS)


def _safe_next(value: str) -> str:
    """Only a dashboard path of this server: never another site (an open redirect)."""
    printable = all(33 <= ord(c) <= 126 for c in value)  # no control byte, no CR/LF
    if printable and value.startswith("/dashboard") and "//" not in value and "\\" not in value:
        return value
    return "/dashboard"


async def login_form(request: Request) -> Response:
    """GET: the form."""
    return _form(next_path=_safe_next(request.query_params.get("next", "/dashboard")))


async def login(request: Request) -> Response:
    """POST token=...: a session cookie and back to the page asked for, or the form again."""
    auth: Auth | None = getattr(request.app.state, "auth", None)
    body = await request.body()
    if len(body) > _MAX_FORM_BYTES:
        return _form("The form was too long.", status=413)
    fields = parse_qs(body.decode("utf-8", errors="replace"), max_num_fields=4)
    next_path = _safe_next(fields.get("next", ["/dashboard"])[0])
    if auth is None or not auth.enabled:
        return RedirectResponse(next_path, status_code=303)  # nothing to sign in to
    credential = auth.match(fields.get("token", [""])[0].strip())
    if credential is None:
        return _form("That token is not valid.", next_path, status=401)
    if DASHBOARD not in credential.scopes:
        return _form("That token may not see the dashboard.", next_path, status=403)
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        auth.session(credential),
        max_age=SESSION_S,
        path="/dashboard",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


async def logout(request: Request) -> Response:
    """POST: forget the session cookie."""
    response = RedirectResponse("/dashboard/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/dashboard", httponly=True, samesite="strict")
    return response


login_routes = [
    Route("/dashboard/login", login_form, methods=["GET"]),
    Route("/dashboard/login", login, methods=["POST"]),
    Route("/dashboard/logout", logout, methods=["POST"]),
]
