"""Hostile input against a real server: path traversal, huge and deep JSON, header
injection, markup in feature names and category levels, label floods.

Every answer is a clear 4xx (never a 5xx, never a file outside the home), markup is shown as
text in the dashboard and in `mara report` (checked in the DOM of headless Chromium), and a
flood of labels leaves the ledger whole: each set in it entirely or not at all.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import httpx
import numpy as np
import orjson
import pandas as pd
import pytest
from eventually import eventually
from monitoring_tools import Browser
from problems import write_problem

from mara.labels import LabelLedger
from mara.serve.process import ServerProcess

TOKEN = "hostile-suite-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NUM = '<script>window.pwned=1</script>"n'
CAT = 'c\'"><img src=x onerror="window.pwned=2">'
LEVELS = ["<script>window.pwned=3</script>", '"quoted" & <b>bold</b>', "o'neil", "plain"]
COLUMNS = ["amount", NUM, CAT]
MAX_ROWS = 1000


def frame(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data = pd.DataFrame(
        {"amount": rng.normal(size=rows), NUM: rng.normal(size=rows), CAT: rng.choice(LEVELS, rows)}
    )
    data["label"] = ((data["amount"] + data[NUM] + (data[CAT] == "plain")) > 0.5).astype(int)
    return data


def batch(batch_id: object, rows: int = 50, seed: int = 1) -> bytes:
    data = frame(rows, seed)
    return orjson.dumps(
        {"id": batch_id, "columns": COLUMNS, "rows": data[COLUMNS].astype(object).values.tolist()}
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    from mara.train import train_problem

    home = tmp_path_factory.mktemp("hostile-home")
    write_problem(home, "phase-x", "prob-x", frame(3000, 0), ["amount", NUM], [CAT])
    train_problem(home, "phase-x", "prob-x")
    with ServerProcess(
        home,
        extra_args=("--max-rows", str(MAX_ROWS), "--no-compile"),
        env={"MARA_TOKEN": TOKEN},
        log_path=home / "serve.log",
    ) as running:
        with httpx.Client(base_url=running.url, timeout=60) as client:
            for i in range(6):
                answer = client.post("/phase-x/prob-x/predict", content=batch(f"b{i}", seed=i))
                assert answer.status_code == 200, answer.text
            eventually(
                lambda: (
                    'data-feature="amount"'
                    in client.get("/dashboard/phase-x/prob-x", headers=AUTH).text
                ),
                "the dashboard to show the features",
                every_s=0.5,
            )
        yield running


def raw(server: ServerProcess, request: bytes) -> tuple[int, bytes]:
    """Send bytes exactly as written (no client normalising the path); status and answer."""
    with socket.create_connection((server.host, server.port), timeout=30) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return int(answer.split(b" ", 2)[1]), answer


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/../prob-x/predict"),
        ("POST", "/phase-x/../predict"),
        ("POST", "/%2e%2e/%2e%2e/predict"),
        ("POST", "/..%2f..%2f/prob-x/predict"),
        ("POST", "/../../labels"),
        ("POST", "/%2e%2e/prob-x/labels"),
        ("POST", "/phase-x/..%2f..%2fetc/labels"),
        ("POST", "/phase-x/prob-x%00/labels"),
        ("GET", "/dashboard/../prob-x"),
        ("GET", "/dashboard/%2e%2e/%2e%2e"),
        ("GET", "/dashboard/phase-x/prob-x/features/..%2f..%2f..%2fetc%2fpasswd"),
        ("GET", "/dashboard/phase-x/prob-x/features/../../../../etc/passwd"),
        ("GET", "/dashboard/static/..%2f..%2f__init__.py"),
        ("GET", "/dashboard/static/%2e%2e"),
        ("GET", "/dashboard/static/../../pages.py"),
    ],
)
def test_path_traversal_in_every_path_parameter_is_a_404(server, method, path):
    body = b'[{"id": "b0", "labels": [1]}]' if method == "POST" else b""
    status, answer = raw(
        server,
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body,
    )
    assert status in (400, 404), answer[:300]
    assert b"root:" not in answer and b"import" not in answer
    labelled = {p.relative_to(server.home / "data" / "labels") for p in _label_dirs(server)}
    assert labelled <= {Path("phase-x/prob-x")}


def _label_dirs(server: ServerProcess) -> list[Path]:
    root = server.home / "data" / "labels"
    return [p.parent for p in root.rglob("labels-*.jsonl")] if root.exists() else []


def test_oversized_and_deeply_nested_json_are_client_errors(server):
    too_big = b'{"id": "big", "rows": [' + b"[1.0, 2.0, 3.0]," * 80_000 + b"[1]]}"
    assert len(too_big) > MAX_ROWS * 1024
    for path in ("/phase-x/prob-x/predict", "/phase-x/prob-x/labels"):
        answer = httpx.post(server.url + path, content=too_big, headers=AUTH, timeout=60)
        assert answer.status_code == 413, answer.text
    deep = b"[" * 100_000 + b"]" * 100_000
    for path in ("/phase-x/prob-x/predict", "/phase-x/prob-x/labels"):
        answer = httpx.post(server.url + path, content=deep, headers=AUTH, timeout=60)
        assert answer.status_code == 400, answer.text
        assert answer.json()["detail"]
    nested_label = {"id": "b0", "labels": [{"a": [[[{"b": 1}]]]}] + [1] * 49}
    answer = httpx.post(
        f"{server.url}/phase-x/prob-x/labels", json=nested_label, headers=AUTH, timeout=60
    )
    assert answer.status_code == 422 and "label {'a'" in answer.json()["detail"], answer.text
    # Predict's contract answers dirty rows: nested cells are bad cells, the row is kept.
    nested_rows = {"id": "n", "columns": COLUMNS, "rows": [[[[[1]]], {"x": {"y": 1}}, ["a"]]]}
    answer = httpx.post(
        f"{server.url}/phase-x/prob-x/predict", json=nested_rows, headers=AUTH, timeout=60
    )
    assert answer.status_code == 200 and len(answer.json()["predictions"]) == 1
    assert LabelLedger(server.home, "phase-x", "prob-x").files() == [] or all(
        b'"b0"' not in p.read_bytes() for p in LabelLedger(server.home, "phase-x", "prob-x").files()
    )


def test_header_injection_goes_nowhere(server):
    answer = httpx.post(
        f"{server.url}/phase-x/prob-x/predict", content=batch("x\r\nSet-Cookie: evil=1"), timeout=30
    )
    assert answer.status_code == 200 and "set-cookie" not in answer.headers
    assert answer.json()["id"] == "x\r\nSet-Cookie: evil=1"  # in the JSON body, as sent
    for target in ("/dashboard\r\nSet-Cookie: evil=1", "//evil.example/", "https://evil.example"):
        answer = httpx.post(
            f"{server.url}/dashboard/login",
            content=f"token={TOKEN}&next={quote(target)}".encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert answer.status_code == 303
        assert answer.headers["location"] == "/dashboard"  # only this server's pages
        assert [c for c in answer.headers.get_list("set-cookie") if "evil" in c] == []
    # A forged Host never makes the login redirect point elsewhere.
    page = httpx.get(
        f"{server.url}/dashboard", headers={"Host": "evil.example", "Accept": "text/html"}
    )
    assert page.status_code == 303 and page.headers["location"].startswith("/dashboard/login")
    # Control bytes and folded lines in a header: refused by the HTTP parser, never let in.
    for header in (b"Authorization: Bearer a\x00b", b"Authorization: Bearer\r\n " + TOKEN.encode()):
        status, _ = raw(
            server,
            b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + header
            + b"\r\nConnection: close\r\n\r\n",
        )
        assert status in (400, 401)


def test_markup_in_names_and_levels_is_inert_in_the_dashboard_and_the_report(server, tmp_path):
    checks = {
        "scripts": "[...document.scripts].map(s => s.getAttribute('src'))",
        "handlers": "[...document.querySelectorAll('*')].flatMap(e => [...e.attributes])"
        ".filter(a => a.name.startsWith('on')).length",
        "images": "document.images.length",
        "pwned": "window.pwned === undefined",
        "text": "document.body.textContent",
    }
    pages = [
        f"{server.url}/dashboard",
        f"{server.url}/dashboard/phase-x/prob-x",
        f"{server.url}/dashboard/phase-x/prob-x/features/{quote(NUM, safe='')}",
        f"{server.url}/dashboard/phase-x/prob-x/features/{quote(CAT, safe='')}",
    ]
    report = tmp_path / "report.html"
    done = subprocess.run(
        [sys.executable, "-m", "mara", "--home", str(server.home), "report", "--phase",
         "phase-x", "--prob", "prob-x", "--since", "1h", "-o", str(report)],
        capture_output=True, text=True, timeout=300, env=os.environ,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    with Browser(tmp_path) as browser:
        browser.open(f"{server.url}/dashboard/login")
        browser.evaluate(f"document.getElementById('token').value = {TOKEN!r}")
        browser.evaluate("document.getElementById('login').submit()")
        browser.wait_for("location.pathname === '/dashboard'")
        seen = {}
        for url in [*pages, report.as_uri()]:
            browser.open(url)
            browser.wait_for("document.readyState === 'complete'")
            seen[url] = {name: browser.evaluate(script) for name, script in checks.items()}
    for url, found in seen.items():
        assert found["scripts"] in ([], ["/dashboard/static/live.js"]), url
        assert found["handlers"] == 0 and found["images"] == 0 and found["pwned"], url
    # Shown as text, character for character.
    assert NUM in seen[pages[1]]["text"] and CAT in seen[pages[1]]["text"]
    assert all(level in seen[pages[3]]["text"] for level in LEVELS)
    assert NUM in seen[report.as_uri()]["text"]


def test_a_label_flood_is_bounded_and_leaves_the_ledger_whole(server):
    ledger = LabelLedger(server.home, "phase-x", "prob-x")
    before = len(ledger.files())

    def post(i: int, token: str | None) -> int:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        body = orjson.dumps([{"id": f"flood-{i}", "labels": [1, 0]}])
        return httpx.post(
            f"{server.url}/phase-x/prob-x/labels", content=body, headers=headers, timeout=60
        ).status_code

    with ThreadPoolExecutor(32) as pool:
        anonymous = list(pool.map(lambda i: post(i, None), range(100)))
        trusted = list(pool.map(lambda i: post(i, TOKEN), range(300)))
    assert set(anonymous) == {401}
    assert set(trusted) <= {200, 503}, set(trusted)  # 503: past the in-flight bound
    accepted = trusted.count(200)
    assert accepted > 0
    files = ledger.files()
    assert len(files) - before == accepted  # one whole file per accepted set, none other
    assert not list(ledger.folder.glob(".*partial*"))
    flood = ledger.read()
    flood = flood[flood["key"].str.startswith("flood-")]
    assert len(flood) == 2 * accepted and set(flood["sender"]) == {"default"}
    # One bad entry in a large set: nothing of it is written.
    body = [{"id": f"big-{i}", "labels": [1]} for i in range(5000)] + [{"id": "z", "labels": [7]}]
    answer = httpx.post(f"{server.url}/phase-x/prob-x/labels", json=body, headers=AUTH, timeout=60)
    assert answer.status_code == 422 and "nothing written" in answer.json()["detail"]
    assert len(ledger.files()) == len(files)
