"""Capture cost: what writing every batch before its answer costs a request.

Trains the demo's fraud problem in a home (or reuses the soak's), then starts the real server
(one worker) with `--no-capture` and with capture on, and replays batches of 300 and 2,000
rows, one at a time and 4 in flight. Reports client-side latency and throughput, and the
server's own time to encode and write one record (`mara_capture_write_seconds`). With
`--before-src DIR` (the `src/` of an older checkout) it also runs that version's server, whose
capture encoded and wrote on a background thread after the answer. Writes results.md here.

    .venv/bin/python benchmarks/capture_cost/run.py [--home bench_home/soak] [--repeat 10]
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import httpx
import orjson

from mara.bench import BenchRequest, run_bench
from mara.serve.process import ServerProcess

HERE = Path(__file__).parent
# The soak's problem and home: one `prepare` trains it for both benchmarks.
sys.path.insert(0, str(HERE.parent / "soak"))
from run import PHASE, PROB, prepare  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/common.py
from common import machine, publish  # noqa: E402


def batches(bodies: list[dict], rows: int) -> list[BenchRequest]:
    """The held-out batches cut to `rows` rows each."""
    out = []
    for n, body in enumerate(bodies):
        cut = {"id": f"cost-{rows}-{n}", "columns": body["columns"], "rows": body["rows"][:rows]}
        out.append(BenchRequest(cut["id"], len(cut["rows"]), orjson.dumps(cut)))
    return out


def capture_totals(url: str) -> tuple[float, float]:
    """Seconds spent encoding and writing records, and how many, from /metrics."""
    totals = {"sum": 0.0, "count": 0.0}
    for line in httpx.get(f"{url}/metrics", timeout=10).text.splitlines():
        for key in totals:
            if line.startswith(f"mara_capture_write_seconds_{key}{{"):
                totals[key] = float(line.split()[-1])
    return totals["sum"], totals["count"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=Path("bench_home/soak"))
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--before-src", type=Path, default=None)
    args = parser.parse_args()
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    bodies = prepare(args.home)
    modes = [("no capture", ("--no-capture",), {}), ("capture, written before the answer", (), {})]
    if args.before_src:
        env = {"PYTHONPATH": str(args.before_src.resolve())}
        modes.append(("capture, before: background thread", (), env))
    results = []
    for mode, extra, env in modes:
        server = ServerProcess(
            args.home,
            extra_args=("--follow", "0", *extra),
            env=env,
            log_path=args.home / "logs" / "capture-bench.log",
        )
        with server:
            for rows in (300, 2000):
                for concurrency in (1, 4):
                    seconds, count = capture_totals(server.url)
                    result = run_bench(
                        server.url,
                        PHASE,
                        PROB,
                        batches(bodies, rows),
                        concurrency=concurrency,
                        repeat=args.repeat,
                        progress=False,
                    )
                    assert result.errors == 0, result.error_samples
                    seconds_after, count_after = capture_totals(server.url)
                    written = count_after - count
                    write_ms = (seconds_after - seconds) / written * 1e3 if written else None
                    results.append(
                        {
                            "mode": mode,
                            "rows": rows,
                            "concurrency": concurrency,
                            "p50": result.p50_ms,
                            "p99": result.p99_ms,
                            "rows_s": result.rows_per_s,
                            "write_ms": write_ms,
                        }
                    )
                    print(results[-1], flush=True)
    lines = [
        f"Fraud problem, {args.repeat} passes over its 4 held-out batches cut to 300 or 2,000 "
        f"rows, one server worker, client on the same machine ({machine()}), shared with other "
        "work.",
        "",
        "| capture | rows | in flight | p50 ms | p99 ms | rows/s | server ms to encode + write |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        write = f"{r['write_ms']:.2f}" if r["write_ms"] is not None else "-"
        lines.append(
            f"| {r['mode']} | {r['rows']:,} | {r['concurrency']} | {r['p50']:.1f} | "
            f"{r['p99']:.1f} | {r['rows_s']:,.0f} | {write} |"
        )
    publish(HERE / "results.md", lines)


if __name__ == "__main__":
    main()
