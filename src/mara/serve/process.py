"""ServerProcess: `mara serve` as a child process, for the demo, the bench and tests; and
wait_until_ready, the one wait for a child's HTTP endpoint on loopback."""

from __future__ import annotations

import ipaddress
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

from mara.errors import MaraError
from mara.home import Home

__all__ = ["ServerProcess", "free_port", "terminate", "wait_until_ready"]

_LOG_TAIL_LINES = 20
_LOG_TAIL_BYTES = 16 * 1024


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on `host` that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class ServerProcess:
    """Starts `mara serve` on a loopback port and waits until /health answers 200.

    `workers=None` leaves the count to `mara serve` (the usable cores).
    """

    def __init__(
        self,
        home: Path,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        workers: int | None = 1,
        extra_args: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
        log_path: Path | None = None,
        start_timeout_s: float = 120.0,
    ):
        self.home = Path(home)
        self.host = host
        self.port = port or free_port(host)
        self.workers = workers
        self.extra_args = extra_args
        self.env = env or {}
        self.log_path = log_path or Home(self.home).logs() / f"serve-{self.port}.log"
        self.start_timeout_s = start_timeout_s
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL of the running server."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> ServerProcess:
        """Start the server and block until it is healthy."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            "-m",
            "mara",
            "--home",
            str(self.home),
            "serve",
            "--host",
            self.host,
            "--port",
            str(self.port),
            *(("--workers", str(self.workers)) if self.workers is not None else ()),
            *self.extra_args,
        ]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=os.environ | self.env
            )
        try:
            wait_until_ready(
                f"{self.url}/health",
                self.process,
                name="mara serve",
                timeout_s=self.start_timeout_s,
                log_path=self.log_path,
            )
        except BaseException:  # not ready, or interrupted: leave no server behind
            self.stop()
            raise
        return self

    def stop(self, timeout_s: float = 30.0) -> int | None:
        """Ask the server to shut down cleanly (SIGTERM); kill it if it will not."""
        return terminate(self.process, timeout_s)

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def terminate(process: subprocess.Popen | None, timeout_s: float) -> int | None:
    """SIGTERM a child and wait `timeout_s` for it, then kill it; its exit code (None if never
    started)."""
    if process is None or process.poll() is not None:
        return None if process is None else process.returncode
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


def wait_until_ready(
    url: str,
    process: subprocess.Popen,
    *,
    name: str,
    timeout_s: float,
    log_path: Path | None = None,
    interval_s: float = 0.2,
) -> None:
    """Poll `url` on loopback until it answers 200, for at most `timeout_s` seconds.

    MaraError names `name` and the URL when `process` exits first (with its exit code) or
    time runs out, followed by the last lines of `log_path` (its stdout and stderr) if given.
    ValueError for a URL that is not on a loopback address.
    """
    host = httpx.URL(url).host
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"{url}: only a loopback address (such as 127.0.0.1) is polled")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise MaraError(
                f"{name} exited with code {process.returncode} before {url} answered 200"
                + _log_tail(log_path)
            )
        try:
            # trust_env off: a proxy from the environment must not carry loopback traffic away.
            if httpx.get(url, timeout=1.0, trust_env=False).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(interval_s)
    raise MaraError(
        f"{name} not ready: {url} did not answer 200 in {timeout_s:g} s" + _log_tail(log_path)
    )


def _log_tail(path: Path | None) -> str:
    if path is None:
        return ""
    try:
        with path.open("rb") as file:  # the end only: a log kept across runs may be large
            file.seek(max(0, file.seek(0, os.SEEK_END) - _LOG_TAIL_BYTES))
            text = file.read().decode(errors="replace")
    except OSError as exc:
        return f"; its log {path} is unreadable ({exc})"
    lines = text.splitlines()[-_LOG_TAIL_LINES:]
    shown = "\n  ".join(lines) if lines else "(empty)"
    return f"; last lines of {path}:\n  {shown}"
