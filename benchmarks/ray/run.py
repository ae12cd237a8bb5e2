"""Ray Serve's overhead against uvicorn: the same app and the same traffic, in one run.

Trains the generated `network` problem (41 features) into a home, then serves it twice at
once on loopback: `mara serve` on uvicorn, and `mara serve --engine ray` on a local one-node
Ray cluster (2 CPUs, no dashboard). Both get the same batches (1, 100 and 1,000 rows) with 1
and 4 clients in flight, engine after engine within each round, so the machine's noise falls
on both; first 1 worker against 1 replica, then 2 against 2. Capture is off on both (the
engine is what is measured, not the disk). Writes results.md, results.json and overhead.svg
beside this file.

    nice -n 10 .venv/bin/python benchmarks/ray/run.py [--home bench_home_ray] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import matplotlib.pyplot as plt
import numpy as np
import orjson
from matplotlib.ticker import ScalarFormatter
from rich.console import Console
from rich.progress import Progress

from mara.bench import BenchRequest, load_requests, run_bench
from mara.data import make_problem
from mara.registry import Registry
from mara.serve.process import ServerProcess
from mara.serve.ray_cluster import LOOPBACK_ENV, LocalRayCluster
from mara.train import train_problem

HERE = Path(__file__).parent
PHASE, PROB = "bench", "network"
SIZES = (1, 100, 1000)
CLIENTS = (1, 4)
# Requests per measurement: enough for a p99, few enough that a round takes seconds.
REQUESTS = {1: 300, 100: 200, 1000: 80}
ENGINES = ("uvicorn", "ray")


@dataclass
class Cell:
    """What one engine answered for one (workers, rows, clients) over every round."""

    latencies_ms: list[float]
    rows: int = 0
    wall_s: float = 0.0
    errors: int = 0

    def summary(self) -> dict[str, float]:
        lat = np.asarray(self.latencies_ms)
        return {
            "p50_ms": float(np.percentile(lat, 50)),
            "p99_ms": float(np.percentile(lat, 99)),
            "rows_per_s": self.rows / self.wall_s,
            "errors": self.errors,
        }


def prepare(home: Path) -> Path:
    """The network problem, trained once; reused when the home already has it."""
    requests = home / "data" / "requests" / PHASE / PROB / "requests.jsonl"
    if not any(m.prob == PROB for m in Registry(home).served_models()):
        make_problem(home, "network", phase=PHASE, prob=PROB, batch_rows=1000)
        train_problem(home, PHASE, PROB)
    return requests


def batches(requests_file: Path) -> dict[int, list[BenchRequest]]:
    """Requests of 1, 100 and 1,000 rows cut from the held-out 1,000-row batches."""
    held_out = [orjson.loads(r.body) for r in load_requests(requests_file)]
    out: dict[int, list[BenchRequest]] = {}
    for size in SIZES:
        cut = []
        for i in range(REQUESTS[size]):
            body = held_out[i % len(held_out)]
            start = (i * size) % (len(body["rows"]) - size + 1)
            rows = body["rows"][start : start + size]
            payload = {"id": f"{size}-{i}", "columns": body["columns"], "rows": rows}
            cut.append(BenchRequest(id=payload["id"], n_rows=size, body=orjson.dumps(payload)))
        out[size] = cut
    return out


def wait_compiled(url: str, *, answers: int = 10, timeout_s: float = 600) -> None:
    """Until `answers` health checks in a row (any worker or replica) say compiled."""
    deadline = time.monotonic() + timeout_s
    streak = 0
    while streak < answers:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url}: forests not compiled after {timeout_s:.0f} s")
        models = httpx.get(f"{url}/health", timeout=10).json()["models"]
        streak = streak + 1 if all(m["full_speed"] for m in models.values()) else 0
        time.sleep(0.2 if streak else 1.0)


def measure(
    urls: dict[str, str], work: dict[int, list[BenchRequest]], rounds: int, progress: Progress
) -> dict[tuple[int, int], dict[str, Cell]]:
    """Every (rows, clients) on both engines, `rounds` times, alternating engines."""
    cells = {(s, c): {e: Cell([]) for e in ENGINES} for s in SIZES for c in CLIENTS}
    task = progress.add_task("rounds", total=rounds * len(cells) * len(ENGINES))
    for round_no in range(rounds):
        for (size, clients), by_engine in cells.items():
            # Which engine goes first alternates, so neither always follows a warm cache.
            order = ENGINES if round_no % 2 == 0 else ENGINES[::-1]
            for engine in order:
                result = run_bench(
                    urls[engine], PHASE, PROB, work[size], concurrency=clients, progress=False
                )
                cell = by_engine[engine]
                cell.latencies_ms.extend(result.latencies_ms.tolist())
                cell.rows += result.rows
                cell.wall_s += result.wall_s
                cell.errors += result.errors
                progress.advance(task)
    return cells


def render(results: list[dict], machine: str, command: str) -> str:
    lines = [
        "# Ray Serve against uvicorn: the same app, the same traffic, one run",
        "",
        f"`{command}`. {machine}",
        "",
        "Generated `network` problem (41 features), compiled forest, capture off on both; "
        "client on the same machine. Ray: a one-node local cluster (2 CPUs), requests through "
        "Ray Serve's proxy to the replicas. Latency is client-side, every round pooled.",
        "",
        "| workers / replicas | rows | clients | uvicorn p50 / p99 ms | Ray p50 / p99 ms "
        "| added p50 ms | uvicorn rows/s | Ray rows/s | Ray / uvicorn throughput |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        u, y = r["uvicorn"], r["ray"]
        lines.append(
            f"| {r['workers']} | {r['rows']:,} | {r['clients']} "
            f"| {u['p50_ms']:.1f} / {u['p99_ms']:.1f} | {y['p50_ms']:.1f} / {y['p99_ms']:.1f} "
            f"| {y['p50_ms'] - u['p50_ms']:+.1f} | {u['rows_per_s']:,.0f} "
            f"| {y['rows_per_s']:,.0f} | {y['rows_per_s'] / u['rows_per_s']:.2f}x |"
        )
    errors = sum(r[e]["errors"] for r in results for e in ENGINES)
    lines += ["", f"Failed requests: {errors}.", ""]
    return "\n".join(lines)


def plot(results: list[dict], path: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=False)
    for ax, clients in zip(axes, CLIENTS, strict=True):
        for workers, style in ((1, "-"), (2, "--")):
            for engine, color in (("uvicorn", "tab:blue"), ("ray", "tab:orange")):
                points = [r for r in results if r["clients"] == clients and r["workers"] == workers]
                ax.plot(
                    [r["rows"] for r in points],
                    [r[engine]["p50_ms"] for r in points],
                    style,
                    color=color,
                    marker="o",
                    label=f"{engine}, {workers} process(es)",
                )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(ScalarFormatter())
        ax.yaxis.set_minor_formatter(ScalarFormatter())
        ax.set_xlabel("rows per request")
        ax.set_ylabel("p50 latency, ms (client side)")
        ax.set_title(f"{clients} client(s) in flight")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.svg")
    fig.savefig(tmp)
    os.replace(tmp, path)


def write_atomically(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=Path("bench_home_ray"))
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    home = args.home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    console = Console(stderr=True)
    console.print("training the network problem (once per home)")
    work = batches(prepare(home))
    results: list[dict] = []
    with LocalRayCluster(home / "ray", num_cpus=2) as cluster, Progress(console=console) as bar:
        for workers in (1, 2):
            common = ("--no-capture", "--follow", "0")
            uvicorn = ServerProcess(
                home, workers=workers, extra_args=common, log_path=home / f"uvicorn-{workers}.log"
            )
            ray = ServerProcess(
                home,
                port=cluster.serve_port,
                env=LOOPBACK_ENV,
                extra_args=(
                    *common,
                    "--engine",
                    "ray",
                    "--ray-address",
                    cluster.address,
                    "--replicas",
                    str(workers),
                ),
                log_path=home / f"ray-{workers}.log",
            )
            with uvicorn, ray:
                urls = {"uvicorn": uvicorn.url, "ray": ray.url}
                for url in urls.values():
                    wait_compiled(url)
                cells = measure(urls, work, args.rounds, bar)
            for (size, clients), by_engine in cells.items():
                results.append(
                    {
                        "workers": workers,
                        "rows": size,
                        "clients": clients,
                        **{e: by_engine[e].summary() for e in ENGINES},
                    }
                )
    machine = (
        f"{platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, Ray {__import__('ray').__version__}; "
        f"{args.rounds} rounds, {REQUESTS} requests per measurement and round."
    )
    command = "nice -n 10 .venv/bin/python benchmarks/ray/run.py"
    write_atomically(HERE / "results.json", json.dumps(results, indent=2))
    write_atomically(HERE / "results.md", render(results, machine, command))
    plot(results, HERE / "overhead.svg")
    console.print(render(results, machine, command))


if __name__ == "__main__":
    main()
