"""ServerProcess: `mara serve` as a child process, for the demo, the bench and tests."""

from __future__ import annotations

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

__all__ = ["ServerProcess", "free_port", "terminate"]


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
        self.log_path = log_path or self.home / "logs" / f"serve-{self.port}.log"
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
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise MaraError(
                    f"server exited with {self.process.returncode}; see {self.log_path}"
                )
            try:
                if httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.stop()
        raise MaraError(
            f"server not healthy after {self.start_timeout_s:.0f} s; see {self.log_path}"
        )

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
