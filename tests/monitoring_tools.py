"""The real outside tools the monitoring tests drive: headless Chromium and Prometheus."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from eventually import eventually

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

    def __init__(
        self, workdir: Path, target: str, rules: Path, port: int, *, token: str = "no-token-set"
    ):
        self.workdir, self.target, self.rules, self.port = workdir, target, rules, port
        self.token = token
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
        # The scrape's credentials_file, as the deploy config names it, beside the config.
        (self.workdir / "mara-token").write_text(self.token + "\n")
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


class Browser:
    """Headless Chromium driven over the DevTools protocol: navigate, fill forms, read the DOM.

    For what `--dump-dom` cannot do: sign in through a form and keep the cookie it sets.
    """

    def __init__(self, workdir: Path, *, timeout_s: float = 30.0):
        self.workdir, self.timeout_s = workdir, timeout_s
        self.process: subprocess.Popen[bytes] | None = None
        self._next_id = 0

    def __enter__(self) -> Browser:
        import json

        import httpx
        from websockets.sync.client import connect

        profile = self.workdir / "chromium-profile"
        profile.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                require("chromium"),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port_file = profile / "DevToolsActivePort"

        def opened() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError("chromium exited before it opened its DevTools port")
            return port_file.exists() and bool(port_file.read_text().strip())

        try:
            eventually(opened, "chromium's DevTools port", every_s=0.1)
        except (AssertionError, RuntimeError):
            self.__exit__()
            raise
        port = int(port_file.read_text().split()[0])
        pages = [
            target
            for target in json.loads(httpx.get(f"http://127.0.0.1:{port}/json/list").text)
            if target["type"] == "page"
        ]
        self.socket = connect(pages[0]["webSocketDebuggerUrl"], max_size=2**26)
        return self

    def call(self, method: str, **params: object) -> dict:
        """One DevTools command and its result (events in between are skipped)."""
        import json

        self._next_id += 1
        self.socket.send(json.dumps({"id": self._next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv(timeout=self.timeout_s))
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    def evaluate(self, expression: str) -> object:
        """The value of a script run in the page."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    def wait_for(self, expression: str) -> object:
        """Wait until a script's value is truthy (the page loaded, a redirect landed)."""

        def value() -> object:
            try:
                return self.evaluate(expression)
            except RuntimeError:  # the page is changing under us
                return None

        return eventually(value, expression, timeout_s=self.timeout_s, every_s=0.1)

    def open(self, url: str) -> str:
        """Navigate and wait for the page (after redirects) to load; its final URL."""
        self.call("Page.navigate", url=url)
        self.wait_for("document.readyState === 'complete' && location.href !== 'about:blank'")
        return str(self.evaluate("location.href"))

    def dom(self) -> str:
        """The page's DOM as HTML, after its scripts ran."""
        return str(self.evaluate("document.documentElement.outerHTML"))

    def __exit__(self, *exc: object) -> None:
        socket = getattr(self, "socket", None)
        if socket is not None:
            socket.close()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
