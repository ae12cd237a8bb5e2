"""mara against `mlflow models serve` on the very same registered model version, in one run.

Trains (or reuses) the generated network problem (41 features), then for each worker count
starts both servers on loopback side by side on the same model version:

- `mara serve --workers W` (capture on, drift on every batch, as users run it);
- `mlflow models serve -m models:/phase-2_prob-1@champion --env-manager local -w W` (MLflow's
  own scoring server loading mara's pyfunc flavour of that version).

First both answer the same 1,000 rows and must agree (same model, so the same predictions).
Then latency: one client, batches of 1, 100, 1,000 and 10,000 rows, the two servers asked in
turn, request by request, so both meet the same neighbours on this shared machine. Then
throughput: 1, 4 and 16 clients each sending 1,000-row batches for a fixed number of
requests, the servers again in turn, with the CPU time each server's processes (every
thread of every process in its tree) spent per batch meanwhile: on a shared machine a
server's rows/s depends on the share of the cores its threads get from the scheduler, its
CPU per batch does not. Writes benchmarks/serve/versus_mlflow.md and .svg.

    .venv/bin/python benchmarks/serve/versus_mlflow.py [--home bench_home] [--workers 1 2]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import orjson
import traffic
from rich.progress import Progress

from mara.registry import tracking_uri
from mara.serve.process import ServerProcess, free_port, wait_until_ready

HERE = Path(__file__).parent

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/common.py
from common import machine, publish  # noqa: E402

CLIENTS = (1, 4, 16)
THROUGHPUT_ROWS = 1_000
_HEADERS = {"content-type": "application/json"}


@dataclass(frozen=True)
class Target:
    """A running server: where to post, how to wrap a batch, where its predictions are."""

    name: str
    url: str
    pid: int

    def body(self, batch_id: str, columns: list[str], rows: list) -> bytes:
        if self.name == "mara":
            return traffic.encode(batch_id, columns, rows)
        return orjson.dumps({"dataframe_split": {"columns": columns, "data": rows}})


class MlflowServer:
    """`mlflow models serve` on the champion of a problem (the benchmark's by default), in its
    own session."""

    def __init__(self, home: Path, *, workers: int, log_path: Path, model: str = traffic.MODEL):
        self.home, self.workers, self.log_path, self.model = home, workers, log_path, model
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> MlflowServer:
        command = [
            str(Path(sys.executable).with_name("mlflow")),
            "models",
            "serve",
            "-m",
            f"models:/{self.model}@champion",
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-w",
            str(self.workers),
        ]
        # As in an activated environment: MLflow starts `uvicorn` from PATH.
        bin_dir = str(Path(sys.executable).parent)
        env = os.environ | {
            "MLFLOW_TRACKING_URI": tracking_uri(self.home),
            "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        try:
            wait_until_ready(
                f"{self.url}/ping",
                self.process,
                name="mlflow models serve",
                timeout_s=300,
                log_path=self.log_path,
            )
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # its uvicorn workers too
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def predict_path(target: Target) -> str:
    if target.name == "mara":
        return f"{target.url}/{traffic.PHASE}/{traffic.PROB}/predict"
    return f"{target.url}/invocations"


def predictions(target: Target, client: httpx.Client, body: bytes) -> list:
    response = client.post(predict_path(target), content=body, headers=_HEADERS)
    response.raise_for_status()
    return response.json()["predictions"]


def latency(targets: list[Target], batches: dict, rounds: int, progress: Progress) -> dict:
    """Milliseconds per request by (server, rows): one client, the servers in turn."""
    found: dict[tuple[str, int], list[float]] = defaultdict(list)
    clients = {t.name: httpx.Client(timeout=300) for t in targets}
    task = progress.add_task("latency", total=rounds * len(batches))
    for round_ in range(-1, rounds):  # one round to warm up, not counted
        for size, (columns, rows) in batches.items():
            order = targets if round_ % 2 else targets[::-1]
            for target in order:
                body = target.body(f"{size}-{round_}", columns, rows)
                started = time.perf_counter()
                answered = predictions(target, clients[target.name], body)
                elapsed = (time.perf_counter() - started) * 1000
                if len(answered) != size:
                    raise SystemExit(f"{target.name}: {size} rows sent, {len(answered)} answered")
                if round_ >= 0:
                    found[(target.name, size)].append(elapsed)
            if round_ >= 0:
                progress.advance(task)
    for client in clients.values():
        client.close()
    return found


def tree_cpu_ms(root: int) -> float:
    """CPU milliseconds run so far by every thread of `root` and its descendants (Linux)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat[1])
    tree, grew = {root}, True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    total = 0
    for pid in tree:
        for task in Path(f"/proc/{pid}/task").glob("*/schedstat"):
            try:
                total += int(task.read_text().split()[0])
            except (OSError, IndexError, ValueError):  # ended meanwhile
                continue
    return total / 1e6


async def _throughput(
    target: Target, body: bytes, clients: int, requests: int, pid: int
) -> tuple[float, float]:
    """Rows per second with `clients` connections each sending `requests` batches in a row,
    and the server's CPU milliseconds per batch meanwhile."""
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=300, limits=limits) as client:

        async def one_client() -> None:
            for _ in range(requests):
                response = await client.post(predict_path(target), content=body, headers=_HEADERS)
                response.raise_for_status()

        await asyncio.gather(*(one_client() for _ in range(clients)))  # connections warm
        cpu, started = tree_cpu_ms(pid), time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(clients)))
        elapsed = time.perf_counter() - started
        await asyncio.sleep(0.2)  # work done after the last answer (capture, summaries)
        cpu_per_batch = (tree_cpu_ms(pid) - cpu) / (clients * requests)
        return clients * requests * THROUGHPUT_ROWS / elapsed, cpu_per_batch


def throughput(
    targets: list[Target], batch: tuple, rounds: int, progress: Progress
) -> tuple[dict, dict]:
    """Median rows/s and CPU ms per batch by (server, clients) over `rounds`, in turn."""
    found: dict[tuple[str, int], list[float]] = defaultdict(list)
    cpu: dict[tuple[str, int], list[float]] = defaultdict(list)
    task = progress.add_task("throughput", total=rounds * len(CLIENTS))
    columns, rows = batch
    for round_ in range(rounds):
        for clients in CLIENTS:
            requests = max(4, 64 // clients)
            for target in targets if round_ % 2 else targets[::-1]:
                body = target.body(f"t-{round_}-{clients}", columns, rows)
                rate, cpu_ms = asyncio.run(_throughput(target, body, clients, requests, target.pid))
                found[(target.name, clients)].append(rate)
                cpu[(target.name, clients)].append(cpu_ms)
            progress.advance(task)

    def median(values: dict) -> dict:
        return {key: float(np.median(v)) for key, v in values.items()}

    return median(found), median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=Path("bench_home"))
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--throughput-rounds", type=int, default=3)
    args = parser.parse_args()
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    requests = traffic.prepare(args.home)
    batches = traffic.bodies(requests)
    results = []
    logs = args.home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    for workers in args.workers:
        traffic.forget_captures(args.home)
        mara = ServerProcess(args.home, workers=workers, extra_args=("--follow", "0"))
        mlflow = MlflowServer(args.home, workers=workers, log_path=logs / "mlflow-serve.log")
        with mara, mlflow, Progress() as progress, httpx.Client(timeout=300) as client:
            targets = [
                Target("mara", mara.url, mara.process.pid),
                Target("mlflow", mlflow.url, mlflow.process.pid),
            ]
            columns, rows = batches[1_000]
            first, second = (predictions(t, client, t.body("same", columns, rows)) for t in targets)
            gap = float(np.max(np.abs(np.asarray(first) - np.asarray(second))))
            if gap > 1e-9:
                raise SystemExit(f"the two servers disagree by {gap}: not the same model")
            times = latency(targets, batches, args.rounds, progress)
            rates, cpu = throughput(
                targets, batches[THROUGHPUT_ROWS], args.throughput_rounds, progress
            )
        results.append({"workers": workers, "gap": gap, "times": times, "rates": rates, "cpu": cpu})
    write_results(results, args.rounds, batches)


def write_results(results: list[dict], rounds: int, batches: dict) -> None:
    lines = [
        f"The same registered version of the network problem (41 features) served by `mara "
        f"serve` (capture and drift on) and `mlflow models serve --env-manager local`, at "
        f"equal workers, side by side in one run; latency over {rounds} requests per size "
        f"from one client, the servers asked in turn; throughput with 1,000-row batches "
        f"({machine()}).",
        "",
        "| workers | rows | mara p50 / p99 ms | MLflow p50 / p99 ms | MLflow / mara (p50) |",
        "| ---: | ---: | ---: | ---: | ---: |",
    ]
    for result in results:
        for size in batches:
            mara = np.asarray(result["times"][("mara", size)])
            mlflow = np.asarray(result["times"][("mlflow", size)])
            p = {
                name: (np.percentile(x, 50), np.percentile(x, 99))
                for name, x in (("mara", mara), ("mlflow", mlflow))
            }
            lines.append(
                f"| {result['workers']} | {size:,} | {p['mara'][0]:.1f} / {p['mara'][1]:.1f} | "
                f"{p['mlflow'][0]:.1f} / {p['mlflow'][1]:.1f} | "
                f"{p['mlflow'][0] / p['mara'][0]:.1f}x |"
            )
    lines += [
        "",
        "| workers | clients | mara rows/s | MLflow rows/s | mara / MLflow | mara CPU ms "
        "per batch | MLflow CPU ms per batch | MLflow / mara CPU |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for result in results:
        for clients in CLIENTS:
            mara, mlflow = result["rates"][("mara", clients)], result["rates"][("mlflow", clients)]
            c_mara, c_mlflow = result["cpu"][("mara", clients)], result["cpu"][("mlflow", clients)]
            lines.append(
                f"| {result['workers']} | {clients} | {mara:,.0f} | {mlflow:,.0f} | "
                f"{mara / mlflow:.1f}x | {c_mara:.1f} | {c_mlflow:.1f} | "
                f"{c_mlflow / c_mara:.1f}x |"
            )
    gaps = ", ".join(f"{r['gap']:.1e}" for r in results)
    lines += [
        "",
        f"Largest difference between the two servers' predictions on the same 1,000 rows: {gaps}.",
    ]
    publish(HERE / "versus_mlflow.md", lines)
    plot(results)


def plot(results: list[dict]) -> None:
    """Throughput by clients, one panel per worker count."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(results), figsize=(4.5 * len(results), 3.8), squeeze=False)
    for ax, result in zip(axes[0], results, strict=True):
        x = np.arange(len(CLIENTS))
        for offset, name, label in (
            (-0.2, "mara", "mara serve"),
            (0.2, "mlflow", "mlflow models serve"),
        ):
            ax.bar(x + offset, [result["rates"][(name, c)] for c in CLIENTS], 0.4, label=label)
        ax.set_xticks(x, [str(c) for c in CLIENTS])
        ax.set_xlabel("clients")
        ax.set_ylabel("rows/s (1,000-row batches)")
        ax.set_title(f"{result['workers']} worker(s) each")
        ax.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(HERE / "versus_mlflow.svg")


if __name__ == "__main__":
    main()
