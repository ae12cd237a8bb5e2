"""Tokens: read from a file or a variable, checked in constant time, never shown."""

from pathlib import Path

import pytest

from mara.serve.app import routes
from mara.serve.auth import (
    ROUTE_SCOPES,
    SCOPES,
    Auth,
    TokenError,
    guarded,
    is_loopback,
    load_credentials,
)

SECRET = "s3cret-s3cret-s3cret-1"
OTHER = "another-secret-value-22"


def test_tokens_file_lines_give_names_secrets_and_scopes(tmp_path: Path):
    path = tmp_path / "tokens"
    path.write_text(f"# who may do what\nops:{SECRET}\n\nprom:{OTHER}:metrics\n")
    ops, prom = load_credentials({"MARA_TOKENS_FILE": str(path)})
    assert (ops.name, ops.scopes) == ("ops", SCOPES)
    assert (prom.name, prom.scopes) == ("prom", frozenset({"metrics"}))
    (default,) = load_credentials({"MARA_TOKEN": SECRET})
    assert default.name == "default" and default.scopes == SCOPES


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("ops", "expected name:secret"),
        ("ops:short", "at least 16"),
        (f"ops:{SECRET}:labels,root", "unknown scope"),
        (f"o/ps:{SECRET}", "credential name"),
        (f"ops:{SECRET}\nops:{OTHER}", "given twice"),
        (f"ops:{SECRET}\nci:{SECRET}", "share one secret"),
    ],
)
def test_a_malformed_tokens_file_is_refused_without_showing_a_secret(tmp_path, text, says):
    path = tmp_path / "tokens"
    path.write_text(text)
    with pytest.raises(TokenError, match=says) as caught:
        load_credentials({"MARA_TOKENS_FILE": str(path)})
    assert SECRET not in str(caught.value) and OTHER not in str(caught.value)
    with pytest.raises(TokenError, match="cannot read"):
        load_credentials({"MARA_TOKENS_FILE": str(tmp_path / "absent")})


def test_match_sessions_and_repr():
    auth = Auth(load_credentials({"MARA_TOKEN": SECRET}))
    (credential,) = auth.credentials
    assert SECRET not in repr(credential) and SECRET not in repr(auth.credentials)
    assert auth.match(SECRET) is credential
    assert auth.match(SECRET + "x") is None and auth.match("") is None
    cookie = auth.session(credential, now=1000.0)
    assert SECRET not in cookie
    assert auth.from_session(cookie, now=1001.0) is credential
    assert auth.from_session(cookie, now=1000.0 + 13 * 3600) is None  # expired
    name, expires, signature = cookie.split(".")
    assert auth.from_session(f"{name}.{int(expires) + 99}.{signature}", now=1001.0) is None
    assert auth.from_session("default.9999999999.forged", now=1001.0) is None
    # Another set of secrets signs with another key: old cookies stop opening anything.
    rotated = Auth(load_credentials({"MARA_TOKEN": OTHER}))
    assert rotated.from_session(cookie, now=1001.0) is None


def test_every_route_of_the_app_is_in_the_table():
    assert {route.path for route in routes} == set(ROUTE_SCOPES)
    assert len(guarded(routes)) == len(routes)


def test_loopback_addresses():
    assert all(map(is_loopback, ["127.0.0.1", "127.3.2.1", "::1", "[::1]", "localhost"]))
    assert not any(map(is_loopback, ["0.0.0.0", "::", "10.0.0.2", "example.org"]))
