"""Every route of a real `mara serve` with no token, a wrong token and the right token.

On uvicorn and on Ray Serve (the same table, one test each), plus the browser's way in, the
optional guard on predict, and the refusal to start open on a public address.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import orjson
import pytest
from eventually import eventually
from monitoring_tools import Browser, Prometheus
from problems import binary_frame
from serving import ENGINES

from mara.labels import LabelLedger
from mara.serve.process import ServerProcess, free_port
from mara.serve.ray_cluster import LOOPBACK_ENV

COLUMNS = ["amount", "age", "noise", "channel", "region"]
OPS = "ops-secret-0123456789abcdef"  # every scope
PROM = "prometheus-secret-0123456789"  # metrics only
WRONG = "not-a-token-at-all-0123456789"
TOKENS = f"# test tokens\nops:{OPS}\nprom:{PROM}:metrics\n"


def batch(batch_id: str, rows: int = 5, seed: int = 1) -> bytes:
    frame = binary_frame(rows, seed)
    return orjson.dumps(
        {"id": batch_id, "columns": COLUMNS, "rows": frame[COLUMNS].values.tolist()}
    )


def tokened_server(
    request: pytest.FixtureRequest,
    trained_home: Path,
    factory: pytest.TempPathFactory,
    *,
    extra_args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> ServerProcess:
    home = factory.mktemp("auth-home")
    shutil.copytree(
        trained_home,
        home,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("captured_data", "logs"),
    )
    tokens = home / "tokens"
    tokens.write_text(TOKENS)
    tokens.chmod(0o600)
    env = {"MARA_TOKENS_FILE": str(tokens), **(env or {})}
    if getattr(request, "param", "uvicorn") == "ray":
        cluster = request.getfixturevalue("ray_cluster")
        return ServerProcess(
            home,
            port=cluster.serve_port,
            extra_args=(*extra_args, "--engine", "ray", "--ray-address", cluster.address),
            env=LOOPBACK_ENV | env,
            log_path=home / "serve.log",
        )
    return ServerProcess(home, extra_args=extra_args, env=env, log_path=home / "serve.log")


@pytest.fixture(scope="module", params=ENGINES)
def server(request, trained_home: Path, tmp_path_factory: pytest.TempPathFactory):
    with tokened_server(request, trained_home, tmp_path_factory) as running:
        with httpx.Client(base_url=running.url, timeout=60) as client:
            assert client.post("/phase-1/prob-1/predict", content=batch("seen")).status_code == 200
        yield running


# (method, path, body, form) -> status with: no token, a wrong token, ops's token, prom's token.
MATRIX = [
    ("GET", "/health", None, (200, 200, 200, 200)),
    ("POST", "/phase-1/prob-1/predict", batch("m"), (200, 200, 200, 200)),
    ("GET", "/openapi.json", None, (200, 200, 200, 200)),
    ("POST", "/phase-1/prob-1/labels", b'{"id": "seen", "labels": [1, 0, 1, 0, 1]}',
     (401, 401, 200, 403)),
    ("GET", "/metrics", None, (401, 401, 200, 200)),
    ("GET", "/dashboard", None, (401, 401, 200, 403)),
    ("GET", "/dashboard/phase-1/prob-1", None, (401, 401, 200, 403)),
    ("GET", "/dashboard/phase-1/prob-1/features/amount", None, (401, 401, 200, 403)),
    ("GET", "/dashboard/static/style.css", None, (200, 200, 200, 200)),
    ("GET", "/dashboard/login", None, (200, 200, 200, 200)),
    ("POST", "/dashboard/logout", b"", (303, 303, 303, 303)),
]  # fmt: skip


def test_every_route_answers_its_documented_status(server: ServerProcess):
    """The table in mara.serve.auth, checked over real HTTP on the engine."""
    wrong = []
    for method, path, body, expected in MATRIX:
        for token, status in zip((None, WRONG, OPS, PROM), expected, strict=True):
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            answer = httpx.request(
                method, server.url + path, content=body, headers=headers, timeout=60
            )
            if answer.status_code != status:
                wrong.append((method, path, token and token[:4], answer.status_code, status))
            if answer.status_code in (401, 403):
                assert answer.headers["www-authenticate"].startswith('Bearer realm="mara"')
                assert answer.json()["error"] in ("Unauthorized", "Forbidden")
                assert (token or "@@") not in answer.text
            if answer.status_code == 401 and token:
                assert 'error="invalid_token"' in answer.headers["www-authenticate"]
            if answer.status_code == 403:
                assert "lacks the" in answer.json()["detail"]
    assert not wrong, wrong
    # The one accepted label set is recorded under the credential's name, not its secret.
    labels = LabelLedger(server.home, "phase-1", "prob-1").read()
    assert set(labels["sender"]) == {"ops"} and len(labels) == 5
    # No secret is written anywhere under the home: logs, captures, ledger, summaries.
    for path in server.home.rglob("*"):
        if path.is_file() and path.name != "tokens" and path.stat().st_size < 50_000_000:
            data = path.read_bytes()
            assert OPS.encode() not in data and PROM.encode() not in data, path


def test_the_browser_signs_in_with_a_form_and_an_httponly_strict_cookie(
    server: ServerProcess, tmp_path: Path
):
    if "ray" in server.extra_args:
        pytest.skip("the same app on Ray: covered by the route table above")
    with Browser(tmp_path) as browser:
        landed = browser.open(f"{server.url}/dashboard/phase-1/prob-1")
        assert landed == f"{server.url}/dashboard/login?next=/dashboard/phase-1/prob-1"
        browser.evaluate(f"document.getElementById('token').value = {WRONG!r}")
        browser.evaluate("document.getElementById('login').submit()")
        browser.wait_for("document.getElementById('login-error') !== null")
        assert "not valid" in browser.dom()
        browser.evaluate(f"document.getElementById('token').value = {OPS!r}")
        browser.evaluate("document.getElementById('login').submit()")
        browser.wait_for("location.pathname === '/dashboard/phase-1/prob-1'")
        browser.wait_for("document.readyState === 'complete'")
        dom = browser.dom()
        assert "phase-1/prob-1" in dom and "<svg" in dom
        assert OPS not in browser.evaluate("location.href")
        assert browser.evaluate("document.cookie") == ""  # HttpOnly: no script can read it
        (cookie,) = browser.call("Network.getCookies", urls=[server.url + "/dashboard"])["cookies"]
        assert cookie["name"] == "mara_session" and OPS not in cookie["value"]
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        assert cookie["path"] == "/dashboard"
    # The cookie opens pages only: with it, labels and metrics still say 401.
    jar = {"mara_session": cookie["value"]}
    page = httpx.get(f"{server.url}/dashboard", cookies=jar)
    assert page.status_code == 200
    labels = httpx.post(
        f"{server.url}/phase-1/prob-1/labels", content=b"[]", cookies=jar, timeout=30
    )
    assert labels.status_code == 401
    forged = {"mara_session": cookie["value"][:-3] + "abc"}
    assert httpx.get(f"{server.url}/dashboard", cookies=forged).status_code == 401


DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def test_prometheus_scrapes_with_the_deploy_config_and_its_token(server, tmp_path: Path):
    if "ray" in server.extra_args:
        pytest.skip("the same /metrics on Ray: covered by the route table above")
    rules = DEPLOY / "prometheus" / "rules.yml"
    target = server.url.removeprefix("http://")
    for token, up in ((PROM, 1.0), (WRONG, 0.0)):
        workdir = tmp_path / token[:4]
        workdir.mkdir()
        with Prometheus(workdir, target, rules, free_port(), token=token) as prom:
            (sample,) = eventually(
                lambda: prom.query('up{job="mara"}'), "a scrape of mara", every_s=0.5
            )
            assert float(sample["value"][1]) == up, token[:4]
            if up:
                assert prom.query("mara_requests_total")


def test_predict_can_require_a_token(trained_home, tmp_path_factory, request):
    with tokened_server(
        request, trained_home, tmp_path_factory, extra_args=("--guard-predict",)
    ) as s:
        url = f"{s.url}/phase-1/prob-1/predict"
        assert httpx.post(url, content=batch("x")).status_code == 401
        wrong = {"Authorization": f"Bearer {WRONG}"}
        assert httpx.post(url, content=batch("x"), headers=wrong).status_code == 401
        prom = {"Authorization": f"Bearer {PROM}"}
        assert httpx.post(url, content=batch("x"), headers=prom).status_code == 403
        ops = {"Authorization": f"Bearer {OPS}"}
        assert httpx.post(url, content=batch("x"), headers=ops, timeout=30).status_code == 200
        assert httpx.get(f"{s.url}/openapi.json").status_code == 401
        assert httpx.get(f"{s.url}/health").status_code == 200


def mara(home: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("MARA_TOKEN", "MARA_TOKENS_FILE")}
    return subprocess.run(
        [sys.executable, "-m", "mara", "--home", str(home), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=clean | (env or {}),
    )


def test_serving_open_on_a_public_address_is_refused_in_one_line(tmp_path: Path):
    done = mara(tmp_path, "serve", "--host", "0.0.0.0", "--port", "1")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "mara: refusing to serve on 0.0.0.0 with labels, the dashboard and metrics open to "
        "anyone: set MARA_TOKENS_FILE or MARA_TOKEN, or pass --insecure-open"
    ]
    bad = tmp_path / "tokens"
    bad.write_text("ops:short\n")
    done = mara(tmp_path, "serve", "--port", "1", env={"MARA_TOKENS_FILE": str(bad)})
    assert done.returncode == 1 and "at least 16" in done.stderr and "short" not in done.stderr
    assert "--token" not in mara(tmp_path, "serve", "--help").stdout  # never on a command line
