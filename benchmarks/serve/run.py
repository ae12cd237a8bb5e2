"""Serving speed: the same traffic through the compiled and the interpreted forest.

Generates (or reuses) the four demo problems in a home, trains them, then starts the real
server twice on loopback, once with compiled forests and once with `--no-compile`, and
replays every problem's held-out batches (2,000 rows each) sequentially and with 4 in
flight. Reports latency percentiles, throughput and the server's resident memory, and the
compiled/interpreted ratios, in benchmarks/serve/results.md.

    .venv/bin/python benchmarks/serve/run.py [--home bench_home] [--repeat 5]
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from mara.bench import load_requests, run_bench
from mara.data import DEFAULT_ROWS, make_problem
from mara.demo import DEMO_PROBLEMS
from mara.registry import Registry
from mara.serve.process import ServerProcess
from mara.train import TrainConfig, train_problem

HERE = Path(__file__).parent

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/common.py
from common import machine, publish  # noqa: E402


def resident_mib(pid: int) -> float:
    """Resident memory of a process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def prepare(home: Path) -> dict:
    """The demo problems, trained once; reused when the home already has them."""
    served = {(m.phase, m.prob) for m in Registry(home).served_models()}
    files = {}
    for problem in DEMO_PROBLEMS:
        key = (problem.phase, problem.prob)
        requests = home / "data" / "requests" / problem.phase / problem.prob / "requests.jsonl"
        if key not in served or not requests.exists():
            make_problem(
                home,
                problem.kind,
                phase=problem.phase,
                prob=problem.prob,
                rows=DEFAULT_ROWS[problem.kind],
                seed=0,
            )
            train_problem(home, problem.phase, problem.prob, config=TrainConfig(compile=True))
        files[problem] = requests
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=Path("bench_home"))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    files = prepare(args.home)
    rows = []
    for mode, extra in (("compiled", ()), ("lightgbm", ("--no-compile",))):
        with ServerProcess(args.home, extra_args=(*extra, "--no-capture")) as server:
            for problem, path in files.items():
                requests = load_requests(path)
                for concurrency in (1, 4):
                    result = run_bench(
                        server.url,
                        problem.phase,
                        problem.prob,
                        requests,
                        concurrency=concurrency,
                        repeat=args.repeat,
                        progress=False,
                    )
                    assert result.errors == 0, result.error_samples
                    rows.append(
                        {
                            "mode": mode,
                            "kind": problem.kind,
                            "concurrency": concurrency,
                            "p50": result.p50_ms,
                            "p99": result.p99_ms,
                            "rows_s": result.rows_per_s,
                            "rss": resident_mib(server.process.pid),
                        }
                    )
                    print(rows[-1], flush=True)
    by_key = {(r["mode"], r["kind"], r["concurrency"]): r for r in rows}
    lines = [
        f"Batches of 2,000 rows, {args.repeat} passes over each problem's held-out requests, "
        f"one server worker, client on the same machine ({machine()}).",
        "",
        "| problem | in flight | compiled p50 / p99 ms | LightGBM p50 / p99 ms | compiled rows/s "
        "| LightGBM rows/s | speed-up (p50) | server RSS MiB |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for problem in files:
        for concurrency in (1, 4):
            c = by_key[("compiled", problem.kind, concurrency)]
            i = by_key[("lightgbm", problem.kind, concurrency)]
            lines.append(
                f"| {problem.kind} | {concurrency} | {c['p50']:.1f} / {c['p99']:.1f} | "
                f"{i['p50']:.1f} / {i['p99']:.1f} | {c['rows_s']:,.0f} | {i['rows_s']:,.0f} | "
                f"{i['p50'] / c['p50']:.2f}x | {c['rss']:.0f} |"
            )
    publish(HERE / "results.md", lines)


if __name__ == "__main__":
    main()
