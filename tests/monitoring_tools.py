"""The real outside tools the monitoring tests drive: headless Chromium and Prometheus."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from mara.serve.process import wait_until_ready


def require(binary: str) -> str:
    """The path of a system binary `make install` provides; fail clearly when it is absent."""
    path = shutil.which(binary)
    if path is None:
        pytest.fail(f"{binary} is not installed; `make install` installs it (Debian package)")
    return path


def chromium(url: str, *args: str, timeout_s: float = 90.0) -> subprocess.CompletedProcess:
    """Headless Chromium on `url`; scripts run for a few seconds of virtual time first."""
    command = [
        require("chromium"),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--no-first-run",
        "--virtual-time-budget=4000",
        *args,
        url,
    ]
    return subprocess.run(command, capture_output=True, timeout=timeout_s, check=True)


def screenshot(url: str, path: Path, *, width: int = 1280, height: int = 1800) -> Path:
    """A PNG of the page as Chromium renders it."""
    chromium(url, f"--screenshot={path}", f"--window-size={width},{height}")
    return path


class Prometheus:
    """A real Prometheus on a loopback port, scraping one target every second."""

    def __init__(self, workdir: Path, target: str, rules: Path, port: int):
        self.workdir, self.target, self.rules, self.port = workdir, target, rules, port
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Prometheus:
        import yaml

        config = yaml.safe_load((self.rules.parent / "prometheus.yml").read_text())
        config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
        config["rule_files"] = [str(self.rules)]
        config["scrape_configs"][0]["static_configs"] = [{"targets": [self.target]}]
        path = self.workdir / "prometheus.yml"
        path.write_text(yaml.safe_dump(config))
        log_path = self.workdir / "prometheus.log"
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    require("prometheus"),
                    f"--config.file={path}",
                    f"--storage.tsdb.path={self.workdir / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_until_ready(
                f"{self.url}/-/ready",
                self.process,
                name="prometheus",
                timeout_s=60,
                log_path=log_path,
            )
        except BaseException:
            self.__exit__()
            raise
        return self

    def query(self, expr: str) -> list[dict]:
        """The instant vector of an expression through the HTTP query API."""
        import httpx

        body = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10).json()
        assert body["status"] == "success", (expr, body)
        return body["data"]["result"]

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
