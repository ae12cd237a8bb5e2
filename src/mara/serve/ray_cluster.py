"""LocalRayCluster: a one-node Ray cluster on loopback, for tests and benchmarks.

The cluster's head runs in a child process of its own (`python -m mara.serve.ray_cluster`),
which starts Ray with `ray.init`, prints the cluster's address and, on SIGTERM, shuts down
exactly the Ray processes it started. `mara serve --engine ray --ray-address ADDRESS` then
joins it as any client of a real cluster would.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from types import TracebackType

from mara.errors import MaraError
from mara.serve.process import free_port, terminate

__all__ = ["LOOPBACK_ENV", "LocalRayCluster"]

_ADDRESS_LINE = "ray-address "
# Ray resolves 127.0.0.1 to the machine's address unless told it runs a one-machine cluster;
# a loopback cluster needs no token (Ray would otherwise write one under ~/.ray).
LOOPBACK_ENV = {
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "RAY_AUTH_MODE": "disabled",
    "RAY_USAGE_STATS_ENABLED": "0",
}


class LocalRayCluster:
    """Starts a Ray head on 127.0.0.1 (no dashboard, a small object store) and stops it."""

    def __init__(
        self,
        temp_dir: Path,
        *,
        num_cpus: int = 2,
        object_store_bytes: int = 100 * 2**20,
        serve_port: int | None = None,
        log_path: Path | None = None,
        start_timeout_s: float = 120.0,
    ):
        self.temp_dir = Path(temp_dir)
        # Ray Serve's proxy listens on one port per cluster, set by the first app deployed.
        self.serve_port = serve_port or free_port()
        self.num_cpus = num_cpus
        self.object_store_bytes = object_store_bytes
        self.log_path = log_path or self.temp_dir / "head.log"
        self.start_timeout_s = start_timeout_s
        self.address: str | None = None
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> LocalRayCluster:
        """Start the head and block until it prints its address."""
        self.temp_dir.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable, "-m", "mara.serve.ray_cluster",
            "--temp-dir", str(self.temp_dir),
            "--num-cpus", str(self.num_cpus),
            "--object-store-bytes", str(self.object_store_bytes),
        ]  # fmt: skip
        with self.log_path.open("a") as log:
            self.process = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=log, text=True,
                env=os.environ | LOOPBACK_ENV,
            )  # fmt: skip
        lines: list[str] = []
        reader = threading.Thread(target=_read_until_address, args=(self.process, lines))
        reader.start()
        reader.join(self.start_timeout_s)
        if not lines:
            self.stop()
            raise MaraError(
                f"Ray did not start in {self.start_timeout_s:.0f} s; see {self.log_path}"
            )
        self.address = lines[0]
        return self

    def stop(self, timeout_s: float = 60.0) -> int | None:
        """SIGTERM the head, which shuts down the Ray processes it started; kill it if stuck."""
        return terminate(self.process, timeout_s)

    def __enter__(self) -> LocalRayCluster:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _read_until_address(process: subprocess.Popen[str], found: list[str]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith(_ADDRESS_LINE):
            found.append(line[len(_ADDRESS_LINE) :].strip())
            return


def _serve_head(temp_dir: str, num_cpus: int, object_store_bytes: int) -> None:
    import ray

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda sig, frame: stop.set())
    ray.init(
        _node_ip_address="127.0.0.1",
        num_cpus=num_cpus,
        object_store_memory=object_store_bytes,
        include_dashboard=False,
        _temp_dir=temp_dir,
        log_to_driver=False,
    )
    print(_ADDRESS_LINE + ray.get_runtime_context().gcs_address, flush=True)
    stop.wait()
    ray.shutdown()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--temp-dir", required=True)
    parser.add_argument("--num-cpus", type=int, required=True)
    parser.add_argument("--object-store-bytes", type=int, required=True)
    args = parser.parse_args()
    _serve_head(args.temp_dir, args.num_cpus, args.object_store_bytes)
