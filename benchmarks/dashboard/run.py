"""Dashboard and report speed with 100,000 summarised batches of a 100-feature problem.

Trains one 100-feature problem (80 numeric, 20 categorical) in a home, writes 100,000 batch
summaries spread over 24 hours through the real SummaryWriter (each from a real drift
report and real bin counts of real batches, the last third with drifted features), starts
the real server on loopback and times its dashboard pages over HTTP: the first request
(reads every summary) and repeated ones (read only what was appended). Then times
`mara report` for the problem and measures the file. Results go to results.md and
results.json beside this file, and a screenshot of the problem page to dashboard.png.

    .venv/bin/python benchmarks/dashboard/run.py [--home bench_dashboard_home] [--batches N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

from mara.drift import DriftReport
from mara.home import Problem
from mara.monitor import SummaryWriter, monitor_dir, summary_record
from mara.monitor.report import build_report
from mara.outcome import Outcome
from mara.preprocess import DataQuality
from mara.registry import Registry
from mara.serve.process import ServerProcess
from mara.spec import CONFIG_NAME, TRAIN_NAME, problem_dir
from mara.train import train_problem

HERE = Path(__file__).parent
PHASE, PROB = "bench", "wide"
N_NUMERIC, N_CATEGORICAL = 80, 20
DAY_S = 86_400.0
LIVE_BATCHES = 1_000  # appended while the server runs: what a refresh then reads


def frame(rows: int, rng: np.random.Generator, *, shift: float = 0.0) -> pd.DataFrame:
    """Rows of the wide problem; `shift` moves the first ten numeric features."""
    data = {}
    for j in range(N_NUMERIC):
        values = rng.normal(size=rows) if j % 2 else rng.lognormal(1.0, 0.7, rows)
        data[f"num_{j:02d}"] = values + (shift if j < 10 else 0.0)
    for j in range(N_CATEGORICAL):
        levels = [f"c{k}" for k in range(3 + j * 3)]
        data[f"cat_{j:02d}"] = rng.choice(levels, rows)
    table = pd.DataFrame(data)
    logit = 0.6 * table.num_01 - 0.4 * np.log(table.num_00) + (table.cat_00 == "c1") - 0.5
    table["label"] = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    return table


def prepare(home: Path) -> None:
    """The wide problem, trained once; reused when the home already serves it."""
    if any(m.prob == PROB for m in Registry(home).served_models()):
        return
    folder = problem_dir(home, PHASE, PROB)
    folder.mkdir(parents=True, exist_ok=True)
    table = frame(20_000, np.random.default_rng(0))
    features = [c for c in table.columns if c != "label"]
    config = {
        "numeric_columns": [c for c in features if c.startswith("num")],
        "category_columns": [c for c in features if c.startswith("cat")],
        "target_column": "label",
        "ml_type": "classification",
    }
    (folder / CONFIG_NAME).write_text(json.dumps(config))
    table.to_parquet(folder / TRAIN_NAME)
    started = time.perf_counter()
    train_problem(home, PHASE, PROB)
    print(f"trained {PHASE}/{PROB} in {time.perf_counter() - started:.0f} s")


def answered(quality: DataQuality, report: DriftReport, proba: Any, seconds: float) -> Outcome:
    """One answered batch of the benchmark's problem, as the server describes it."""
    return Outcome(
        problem=Problem(PHASE, PROB),
        status=200,
        seconds=seconds,
        version="1",
        quality=quality,
        report=report,
        predictions=proba,
    )


def write_summaries(home: Path, n_batches: int, now: float) -> float:
    """n_batches summaries over the last 24 h, as one worker's writer writes them."""
    shutil.rmtree(monitor_dir(home), ignore_errors=True)
    bundle = Registry(home).load(f"{PHASE}_{PROB}")
    rng = np.random.default_rng(1)
    columns = list(bundle.spec.features)
    # 200 distinct real batches (100 rows each) are cycled: scoring 100,000 would only
    # measure the detector, which has a benchmark of its own.
    pool = []
    for i in range(200):
        table = frame(100, rng, shift=0.4 if i >= 130 else 0.0)
        values = {c: table[c].tolist() for c in columns}
        matrix, quality = bundle.prepare(values, 100)
        proba = bundle.predict_matrix(matrix)
        pool.append((matrix, quality, bundle.drift.score(matrix), proba))
    times = np.sort(now - DAY_S + rng.random(n_batches) * DAY_S)
    started = time.perf_counter()
    writer = SummaryWriter(home)
    for i, t in enumerate(times):
        drifted = t > now - DAY_S / 3
        first, count = (130, 70) if drifted else (0, 130)
        matrix, quality, report, proba = pool[first + i % count]
        dirty = DataQuality(**{**quality.as_dict(), "cells_missing": int(rng.poisson(3))})
        record = summary_record(answered(dirty, report, proba, float(rng.gamma(4.0, 0.003))))
        record["t"] = float(t)
        writer.record(record, detector=bundle.drift, matrix=matrix, report=report)
    writer.close()
    return time.perf_counter() - started


def time_get(client: httpx.Client, path: str, repeat: int) -> dict:
    """Seconds for the first GET and the median and max of `repeat` more."""
    started = time.perf_counter()
    first = client.get(path)
    first.raise_for_status()
    cold = time.perf_counter() - started
    warm = []
    for _ in range(repeat):
        started = time.perf_counter()
        client.get(path).raise_for_status()
        warm.append(time.perf_counter() - started)
    return {
        "path": path,
        "first_s": cold,
        "median_s": statistics.median(warm),
        "max_s": max(warm),
        "bytes": len(first.content),
    }


def record_cost(home: Path, repeat: int = 2000) -> float:
    """Microseconds the request path spends building one 100-feature batch's summary line."""
    bundle = Registry(home).load(f"{PHASE}_{PROB}")
    table = frame(100, np.random.default_rng(2))
    matrix, quality = bundle.prepare({c: table[c].tolist() for c in bundle.spec.features}, 100)
    report, proba = bundle.drift.score(matrix), bundle.predict_matrix(matrix)
    started = time.perf_counter()
    for _ in range(repeat):
        summary_record(answered(quality, report, proba, 0.01))
    return (time.perf_counter() - started) / repeat * 1e6


def append_live(home: Path, n_batches: int) -> None:
    """n_batches more summaries from another writer, as a second worker would add them."""
    bundle = Registry(home).load(f"{PHASE}_{PROB}")
    table = frame(100, np.random.default_rng(3))
    matrix, quality = bundle.prepare({c: table[c].tolist() for c in bundle.spec.features}, 100)
    report, proba = bundle.drift.score(matrix), bundle.predict_matrix(matrix)
    writer = SummaryWriter(home)
    for _ in range(n_batches):
        record = summary_record(answered(quality, report, proba, 0.01))
        writer.record(record, detector=bundle.drift, matrix=matrix, report=report)
    writer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=Path("bench_dashboard_home"))
    parser.add_argument("--batches", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    home = args.home.resolve()
    prepare(home)
    now = time.time()
    write_s = write_summaries(home, args.batches, now)
    size = sum(p.stat().st_size for p in monitor_dir(home).glob("*.jsonl"))
    print(f"wrote {args.batches:,} summaries ({size / 2**20:.1f} MiB) in {write_s:.1f} s")

    pages = {}
    with (
        ServerProcess(home, extra_args=("--no-compile", "--no-capture")) as server,
        httpx.Client(base_url=server.url, timeout=120) as client,
    ):
        for name, path in (
            ("overview", "/dashboard?window=24h"),
            ("problem", f"/dashboard/{PHASE}/{PROB}"),
            ("feature", f"/dashboard/{PHASE}/{PROB}/features/num_03?since=24h"),
        ):
            pages[name] = time_get(client, path, args.repeat)
        append_live(home, LIVE_BATCHES)
        for name, page in pages.items():
            page["after_live_s"] = time_get(client, page["path"], 1)["first_s"]
            print(name, {k: round(v, 4) if isinstance(v, float) else v for k, v in page.items()})
        shot = HERE / "dashboard.png"
        subprocess.run(
            [
                "chromium",
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--window-size=1240,2700",
                "--virtual-time-budget=3000",
                f"--screenshot={shot}",
                f"{server.url}/dashboard/{PHASE}/{PROB}",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )

    bundle = Registry(home).load(f"{PHASE}_{PROB}")
    started = time.perf_counter()
    html = build_report(home, PHASE, PROB, champion=lambda: (bundle, "1"), now=now)
    build_s = time.perf_counter() - started
    output = home / "report.html"
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "mara",
            "--home",
            str(home),
            "report",
            "--phase",
            PHASE,
            "--prob",
            PROB,
            "-o",
            str(output),
        ],
        check=True,
        timeout=600,
    )
    cli_s = time.perf_counter() - started
    report = {
        "build_s": build_s,
        "cli_s": cli_s,
        "bytes": output.stat().st_size,
        "in_memory_bytes": len(html.encode()),
    }
    print("report", report)

    record_us = record_cost(home)
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    results = {
        "batches": args.batches,
        "features": N_NUMERIC + N_CATEGORICAL,
        "summary_bytes": size,
        "write_s": write_s,
        "record_us": record_us,
        "pages": pages,
        "report": report,
        "machine": machine,
    }
    (HERE / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = [
        f"# Dashboard with {args.batches:,} summarised batches, {N_NUMERIC + N_CATEGORICAL} "
        "features",
        "",
        f"Machine: {machine}. Summaries on disk: {size / 2**20:.1f} MiB, written by one "
        f"worker's SummaryWriter in {write_s:.1f} s ({write_s / args.batches * 1e6:.0f} µs "
        "per batch including bin counts, on the writer's thread); building a summary line "
        f"on the request path: {record_us:.0f} µs.",
        "",
        "Times are over HTTP. The first request is sent as soon as `/health` answers: the "
        "server then is still reading the summaries already on disk (once, on a thread, at "
        "start-up), and that request waits for it. Then "
        f"{args.repeat} more, then one after another writer appended {LIVE_BATCHES:,} "
        "batches (what a live refresh reads).",
        "",
        "| page | first request, during start-up reading s | then median s | then max s | "
        "after 1,000 new s | HTML KiB |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, page in pages.items():
        lines.append(
            f"| {name} (`{page['path']}`) | {page['first_s']:.3f} | "
            f"{page['median_s']:.3f} | {page['max_s']:.3f} | "
            f"{page['after_live_s']:.3f} | {page['bytes'] / 1024:.0f} |"
        )
    lines += [
        "",
        "| report | build s (summaries to HTML) | `mara report` s (with MLflow load) | size KiB |",
        "| --- | ---: | ---: | ---: |",
        f"| {PHASE}/{PROB} | {build_s:.2f} | {cli_s:.1f} | {report['bytes'] / 1024:.0f} |",
        "",
    ]
    (HERE / "results.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
