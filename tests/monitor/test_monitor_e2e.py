"""A real two-worker server that served traffic, looked at through its dashboard, a headless
Chromium, a real Prometheus scraping it, and `mara report`."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import orjson
import pytest
import yaml
from eventually import eventually
from monitoring_tools import Prometheus, chromium, require, screenshot
from problems import binary_frame, multiclass_frame

from mara.serve.process import ServerProcess, free_port

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
COLUMNS = ["amount", "age", "noise", "channel", "region"]
SENT = {"phase-1/prob-1": 24, "phase-1/prob-2": 10}
REFUSED = 3  # 422s on phase-1/prob-1


@pytest.fixture(scope="module")
def served(trained_home: Path, tmp_path_factory: pytest.TempPathFactory):
    """Two workers on a copy of the trained home, after clean, shifted and refused traffic."""
    home = tmp_path_factory.mktemp("monitor-home")
    shutil.copytree(
        trained_home,
        home,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("captured_data", "logs", "monitor"),
    )
    with (
        ServerProcess(home, workers=2, log_path=home / "serve.log") as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        # Four connections at once, so both workers answer and write summaries.
        with ThreadPoolExecutor(4) as pool:
            answers = list(
                pool.map(lambda i: send_binary(server.url, i), range(SENT["phase-1/prob-1"]))
            )
        assert all(answer.is_success for answer in answers)
        # The kernel chooses which worker accepts a connection, so one may take them all:
        # new connections go on (bounded) until both workers have answered.
        workers = {answer.headers["x-mara-worker"] for answer in answers}
        for i in range(100):
            if i >= SENT["phase-1/prob-2"] and len(workers) == 2:
                break
            workers.add(send_multiclass(server.url, i))
        assert len(workers) == 2, "one worker answered 100 new connections alone"
        for _ in range(REFUSED):
            bad = client.post("/phase-1/prob-1/predict", content=b'{"id": "x", "rows": []}')
            assert bad.status_code == 422
        assert client.post("/nowhere/none/predict", content=b"{}").status_code == 404
        wait_for_summaries(client)
        yield server, home


def send_binary(url: str, i: int) -> httpx.Response:
    """One 300-row batch on its own connection; the second half has `age` shifted."""
    frame = binary_frame(300, seed=100 + i)
    if i >= SENT["phase-1/prob-1"] // 2:
        frame = frame.assign(age=frame.age + 12.0)  # one standard deviation
    rows = frame[COLUMNS].astype(object).values.tolist()
    rows[0][0], rows[1][2] = "n/a", "1,5"
    body = orjson.dumps({"id": f"b{i}", "columns": COLUMNS, "rows": rows})
    return httpx.post(f"{url}/phase-1/prob-1/predict", content=body, timeout=30)


def send_multiclass(url: str, i: int) -> str:
    """One 100-row batch on its own connection; the pid of the worker that answered."""
    frame = multiclass_frame(100, seed=200 + i)
    rows = frame[["x", "y", "proto"]].astype(object).values.tolist()
    body = orjson.dumps({"id": f"m{i}", "columns": ["x", "y", "proto"], "rows": rows})
    answer = httpx.post(f"{url}/phase-1/prob-2/predict", content=body, timeout=30)
    assert answer.is_success
    return answer.headers["x-mara-worker"]


def wait_for_summaries(client: httpx.Client) -> None:
    """Until both workers' summaries and profiles are on disk (bounded)."""
    expected = f"{SENT['phase-1/prob-1'] + REFUSED:,} batches"

    def shown() -> bool:
        page = client.get("/dashboard/phase-1/prob-1").text
        return expected in page and 'data-feature="age"' in page and "–</td><td>–" not in page

    eventually(shown, f"the dashboard to show {expected}", every_s=0.5)


def overview_rows(html: str) -> dict[str, list[str]]:
    rows = re.findall(r'<tr[^>]*data-problem="([^"]+)">(.*?)</tr>', html)
    return {problem: re.findall(r"<td>(.*?)</td>", cells) for problem, cells in rows}


def test_overview_shows_every_problem_worst_first(served):
    server, _ = served
    response = httpx.get(f"{server.url}/dashboard?window=1h")
    assert response.status_code == 200
    assert "default-src 'none'" in response.headers["content-security-policy"]
    rows = overview_rows(response.text)
    assert list(rows) == ["phase-1/prob-1", "phase-1/prob-2"]  # the one with errors first
    prob1 = rows["phase-1/prob-1"]
    total = SENT["phase-1/prob-1"] + REFUSED
    assert prob1[2] == f"{REFUSED / total:.1%}"  # error rate
    drift_rate = float(prob1[6].rstrip("%")) / 100
    assert 0.4 <= drift_rate <= 0.6  # the shifted half is flagged, the calm half is not
    assert prob1[8] == "v1"
    assert rows["phase-1/prob-2"][2] == "0.0%"
    assert "nowhere" not in response.text  # stray URLs make no rows
    _, home = served

    def writers() -> set[str]:
        return {path.name.split("-")[2] for path in (home / "data" / "monitor").glob("batches-*")}

    eventually(lambda: len(writers()) == 2, "both workers' summaries on disk", every_s=0.5)


def test_no_request_leaves_the_machine(served):
    server, _ = served
    pages = ["/dashboard", "/dashboard/phase-1/prob-1", "/dashboard/phase-1/prob-1/features/age"]
    for path in pages:
        html = httpx.get(f"{server.url}{path}").text
        for url in re.findall(r'(?:src|href|action)="([^"]+)"', html):
            assert url.startswith(("/", "#")), (path, url)
    for name in ("style.css", "live.js"):
        asset = httpx.get(f"{server.url}/dashboard/static/{name}")
        assert asset.status_code == 200 and "http" not in asset.text.replace("https://", "")
    assert httpx.get(f"{server.url}/dashboard/static/../app.py").status_code == 404


def test_problem_and_feature_pages(served):
    server, _ = served
    page = httpx.get(f"{server.url}/dashboard/phase-1/prob-1").text
    for section in ("drift", "features", "quality", "traffic", "predictions", "performance"):
        assert f'id="{section}"' in page
    features = re.findall(r'data-feature="([^"]+)"', page)
    assert features[0] == "age"  # the shifted feature leads
    assert set(features) == set(COLUMNS)
    found = httpx.get(f"{server.url}/dashboard/phase-1/prob-1", params={"q": "AG"}).text
    assert re.findall(r'data-feature="([^"]+)"', found) == ["age"]
    detail = httpx.get(f"{server.url}/dashboard/phase-1/prob-1/features/channel").text
    assert "reference (training)" in detail and ">web<" in detail
    rows = re.search(r"recent: ([\d,]+) rows", detail).group(1)
    assert int(rows.replace(",", "")) == 300 * SENT["phase-1/prob-1"]


def test_bad_queries_are_client_errors(served):
    server, _ = served
    assert httpx.get(f"{server.url}/dashboard?window=soon").status_code == 400
    assert httpx.get(f"{server.url}/dashboard/phase-1/prob-1?since=later").status_code == 400
    assert httpx.get(f"{server.url}/dashboard/no/such").status_code == 404
    missing = httpx.get(f"{server.url}/dashboard/phase-1/prob-1/features/nothing")
    assert missing.status_code == 404 and "nothing" in missing.json()["detail"]


def test_chromium_renders_the_live_dashboard(served, tmp_path: Path):
    server, _ = served
    dom = chromium(f"{server.url}/dashboard/phase-1/prob-1", "--dump-dom").stdout.decode()
    assert 'data-live="on"' in dom  # the served script ran under the page's CSP
    assert "Live: refreshed" in dom
    assert dom.count("<svg") >= 7
    overview = chromium(f"{server.url}/dashboard", "--dump-dom").stdout.decode()
    assert set(overview_rows(overview)) == set(SENT)

    png = screenshot(f"{server.url}/dashboard/phase-1/prob-1", tmp_path / "problem.png")
    import matplotlib.image

    pixels = matplotlib.image.imread(png)[..., :3]
    assert pixels.std() > 0.05  # not blank
    blue = np.all(np.abs(pixels - np.array([37, 99, 235]) / 255) < 0.05, axis=-1)
    assert blue.sum() > 200  # the charts' lines and bars were drawn


def test_prometheus_scrapes_every_metric_and_every_rule_returns_data(served, tmp_path: Path):
    server, _ = served
    target = server.url.removeprefix("http://")
    rules = DEPLOY / "prometheus" / "rules.yml"
    with Prometheus(tmp_path, target, rules, free_port()) as prom:
        eventually(lambda: len(prom.query("mara_rows_total")) >= 2, "both workers scraped")
        # Rates need two scrapes of a series, not only the first.
        eventually(lambda: prom.query("rate(mara_requests_total[5m])"), "a rate of the requests")
        names = {row["metric"]["__name__"] for row in prom.query('{__name__=~"mara_.+"}')}
        assert {
            "mara_requests_total",
            "mara_rows_total",
            "mara_predict_seconds_bucket",
            "mara_drift_batches_total",
            "mara_drift_flags_total",
            "mara_drift_statistic",
            "mara_drift_threshold",
            "mara_feature_drift_score",
            "mara_cells_total",
            "mara_model_version",
            "mara_model_loaded",
        } <= names
        requests = prom.query('sum by (code) (mara_requests_total{problem="phase-1/prob-1"})')
        by_code = {r["metric"]["code"]: float(r["value"][1]) for r in requests}
        assert by_code == {"200": SENT["phase-1/prob-1"], "422": REFUSED}  # both workers
        features = prom.query('mara_feature_drift_score{problem="phase-1/prob-1"}')
        assert {r["metric"]["feature"] for r in features} <= set(COLUMNS)

        for group in yaml.safe_load(rules.read_text())["groups"]:
            for rule in group["rules"]:
                expr = rule["expr"]
                if "alert" in rule:  # the condition's left side: the figure it watches
                    expr = re.sub(r"\s*(>|<|==|>=|<=)\s*[\d.e+-]+\s*$", "", expr.strip())
                # A recording rule has data once it has been evaluated after two scrapes.
                eventually(lambda e=expr: prom.query(e), f"data for {rule}", timeout_s=30)
        dashboard = orjson.loads((DEPLOY / "grafana" / "mara.json").read_bytes())
        assert [v["name"] for v in dashboard["templating"]["list"]] == ["problem"]
        for panel in dashboard["panels"]:
            for query in panel["targets"]:
                expr = query["expr"].replace("$problem", "phase-1/prob-1")
                assert prom.query(expr.replace("$__rate_interval", "1m")), panel["title"]


def test_promtool_accepts_the_deploy_files(tmp_path: Path):
    promtool = require("promtool")
    folder = tmp_path
    for name in ("prometheus.yml", "rules.yml", "rules_test.yml"):
        shutil.copy(DEPLOY / "prometheus" / name, folder / name)
    (folder / "mara-token").write_text("a-token-of-the-metrics-scope\n")  # as the user puts it
    for args in (
        ["check", "config", "prometheus.yml"],
        ["check", "rules", "rules.yml"],
        ["test", "rules", "rules_test.yml"],
    ):
        done = subprocess.run([promtool, *args], cwd=folder, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr


def test_report_is_one_self_contained_file(served, tmp_path: Path):
    _, home = served
    output = tmp_path / "report.html"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mara",
            "--home",
            str(home),
            "report",
            "--phase",
            "phase-1",
            "--prob",
            "prob-1",
            "--since",
            "1h",
            "-o",
            str(output),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    html = output.read_text()
    assert len(html.encode()) < 2**20
    assert not re.findall(r'(?:src|href)="(?!#)[^"]*"', html)  # nothing to fetch
    assert "<script" not in html
    assert f"{SENT['phase-1/prob-1'] + REFUSED:,} batches" in html
    for feature in COLUMNS:
        assert f'id="f-{feature}"' in html
    refused = subprocess.run(
        [
            sys.executable,
            "-m",
            "mara",
            "--home",
            str(home),
            "report",
            "--phase",
            "phase-1",
            "--prob",
            "prob-1",
            "--since",
            "tomorrow",
            "-o",
            str(tmp_path / "x.html"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert refused.returncode == 1 and "cannot read 'tomorrow'" in refused.stderr
    assert not (tmp_path / "x.html").exists()
    quiet = subprocess.run(
        [
            sys.executable,
            "-m",
            "mara",
            "--home",
            str(home),
            "report",
            "--phase",
            "phase-1",
            "--prob",
            "prob-9",
            "-o",
            str(tmp_path / "x.html"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert quiet.returncode == 1 and "no monitoring summary of phase-1/prob-9" in quiet.stderr
    assert not (tmp_path / "x.html").exists()
