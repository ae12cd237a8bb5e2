"""Soak: the real server under steady load for a given time; memory, descriptors, latency.

Trains the demo's fraud problem in a home (or reuses it), starts `mara serve` on loopback with
capture on, and sends batches of `--rows` rows from `--clients` client threads, each at a
steady `--rate` requests per second, for `--minutes`. Every `--sample-s` seconds it records the
server's resident memory and open file descriptors (the process and its workers); per minute
it reports requests, failures and latency percentiles. At the end it stops the server with
SIGTERM and checks the exit code and that every answered batch is in the capture. Writes
results.md, samples.csv, minutes.csv and soak.png beside this file.

    .venv/bin/python benchmarks/soak/run.py --minutes 30 [--clients 3 --rate 4 --rows 300]
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import platform
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import orjson

from mara.capture import captured_dir
from mara.data import DEFAULT_ROWS, make_problem
from mara.registry import Registry
from mara.serve.process import ServerProcess
from mara.train import TrainConfig, train_problem

HERE = Path(__file__).parent
PHASE, PROB = "phase-1", "prob-1"


@dataclass
class Outcome:
    """One request: when it was sent (s since start), how long it took, and whether it failed."""

    sent_s: float
    seconds: float
    ok: bool


def prepare(home: Path) -> list[dict]:
    """The fraud problem trained once in `home`; its held-out request bodies."""
    requests = home / "data" / "requests" / PHASE / PROB / "requests.jsonl"
    served = {(m.phase, m.prob) for m in Registry(home).served_models()}
    if (PHASE, PROB) not in served or not requests.exists():
        make_problem(home, "fraud", phase=PHASE, prob=PROB, rows=DEFAULT_ROWS["fraud"], seed=0)
        train_problem(home, PHASE, PROB, config=TrainConfig(compile=True))
    return [orjson.loads(line) for line in requests.read_bytes().split(b"\n") if line.strip()]


def process_tree(pid: int) -> list[int]:
    """`pid` and its children (the workers), from /proc."""
    pids = [pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                pids.append(int(entry.name))
    return pids


def rss_and_fds(pid: int) -> tuple[float, int]:
    """Resident MiB and open descriptors, summed over the server's processes."""
    rss_kib, fds = 0, 0
    for p in process_tree(pid):
        try:
            status = Path(f"/proc/{p}/status").read_text().splitlines()
            rss_kib += int(next(x for x in status if x.startswith("VmRSS:")).split()[1])
            fds += len(os.listdir(f"/proc/{p}/fd"))
        except (OSError, StopIteration):
            continue
    return rss_kib / 1024, fds


def client(
    url: str,
    name: str,
    columns: list[str],
    batches: list[list],
    rate: float,
    stop_at: float,
    start: float,
    outcomes: list[Outcome],
    answered: set[str],
) -> None:
    """Send at a steady rate until `stop_at`; a late send goes at once, never in a burst.

    Every request carries its own id: the capture check needs them all distinct.
    """
    with httpx.Client(timeout=30, headers={"content-type": "application/json"}) as http:
        due = time.monotonic()
        n = 0
        while (now := time.monotonic()) < stop_at:
            if now < due:
                time.sleep(due - now)
            due = max(due + 1 / rate, time.monotonic())
            batch_id = f"{name}-{n}"
            body = orjson.dumps(
                {"id": batch_id, "columns": columns, "rows": batches[n % len(batches)]}
            )
            n += 1
            sent = time.monotonic()
            try:
                ok = http.post(url, content=body).status_code == 200
            except httpx.HTTPError:
                ok = False
            outcomes.append(Outcome(sent - start, time.monotonic() - sent, ok))
            if ok:
                answered.add(batch_id)


def captured_ids(home: Path) -> set[str]:
    """Ids in the capture, line by line on b"\\n", skipping a torn last line."""
    ids = set()
    for path in captured_dir(home, PHASE, PROB).glob("requests-*.jsonl"):
        for line in path.read_bytes().split(b"\n"):
            try:
                ids.add(orjson.loads(line)["id"])
            except orjson.JSONDecodeError:
                continue
    return ids


def minute_table(outcomes: list[Outcome], minutes: int) -> list[dict]:
    """Requests, failures and latency percentiles per minute of the run."""
    rows = []
    for minute in range(minutes):
        inside = [o for o in outcomes if minute * 60 <= o.sent_s < (minute + 1) * 60]
        ms = np.array([o.seconds * 1000 for o in inside if o.ok]) if inside else np.array([])
        p50, p95, p99 = np.percentile(ms, [50, 95, 99]) if ms.size else (np.nan,) * 3
        rows.append(
            {
                "minute": minute + 1,
                "requests": len(inside),
                "failures": sum(not o.ok for o in inside),
                "p50_ms": p50,
                "p95_ms": p95,
                "p99_ms": p99,
            }
        )
    return rows


def plot(samples: list[tuple[float, float, int]], table: list[dict], path: Path) -> None:
    """RSS and descriptors over time; latency percentiles per minute."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (mem, lat) = plt.subplots(2, 1, figsize=(9, 7), sharex=True)
    minutes = [s[0] / 60 for s in samples]
    mem.plot(minutes, [s[1] for s in samples], color="tab:blue", label="RSS (MiB)")
    mem.set_ylabel("server RSS, MiB")
    mem.set_ylim(0, max(s[1] for s in samples) * 1.2)
    fds = mem.twinx()
    fds.plot(minutes, [s[2] for s in samples], color="tab:orange", label="open fds")
    fds.set_ylabel("open file descriptors")
    fds.set_ylim(0, max(s[2] for s in samples) * 1.5)
    mem.legend(loc="lower left")
    fds.legend(loc="lower right")
    mem.set_title("mara serve under steady load: memory and descriptors")
    centre = [r["minute"] - 0.5 for r in table]
    for key in ("p50_ms", "p95_ms", "p99_ms"):
        lat.plot(centre, [r[key] for r in table], marker="o", label=key.replace("_ms", ""))
    lat.set_ylabel("latency per minute, ms")
    lat.set_xlabel("minutes")
    lat.set_ylim(bottom=0)
    lat.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=Path("bench_home/soak"))
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=3)
    parser.add_argument("--rate", type=float, default=4.0, help="requests/s per client")
    parser.add_argument("--rows", type=int, default=300, help="rows per batch")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--sample-s", type=float, default=10.0)
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    batches = prepare(args.home)
    batch_rows = [b["rows"][: args.rows] for b in batches]
    columns = batches[0]["columns"]
    with ServerProcess(
        args.home, workers=args.workers, log_path=args.home / "logs" / "soak-serve.log"
    ) as server:
        assert server.process is not None
        pid = server.process.pid
        url = f"{server.url}/{PHASE}/{PROB}/predict"
        start = time.monotonic()
        stop_at = start + args.minutes * 60
        outcomes: list[Outcome] = []
        answered: set[str] = set()
        threads = [
            threading.Thread(
                target=client,
                args=(
                    url,
                    f"soak-{c}",
                    columns,
                    batch_rows,
                    args.rate,
                    stop_at,
                    start,
                    outcomes,
                    answered,
                ),
            )
            for c in range(args.clients)
        ]
        samples = [(0.0, *rss_and_fds(pid))]
        for thread in threads:
            thread.start()
        while (now := time.monotonic()) < stop_at:
            time.sleep(min(args.sample_s, max(stop_at - now, 0)))
            samples.append((time.monotonic() - start, *rss_and_fds(pid)))
            elapsed = samples[-1][0] / 60
            print(
                f"{elapsed:5.1f} min  rss {samples[-1][1]:7.1f} MiB  fds {samples[-1][2]:4d}  "
                f"requests {len(outcomes)}  failures {sum(not o.ok for o in outcomes)}",
                flush=True,
            )
        for thread in threads:
            thread.join()
        exit_code = server.stop(timeout_s=60)
    report(args, outcomes, answered, samples, exit_code)


def report(
    args: argparse.Namespace,
    outcomes: list[Outcome],
    answered: set[str],
    samples: list[tuple[float, float, int]],
    exit_code: int | None,
) -> None:
    """Write results.md, samples.csv, minutes.csv and soak.png."""
    args.out.mkdir(parents=True, exist_ok=True)
    minutes = int(np.ceil(args.minutes))
    table = minute_table(outcomes, minutes)
    missing = answered - captured_ids(args.home)
    # Baseline after the first minute: start-up allocations and warm caches are not growth.
    warm = next((s for s in samples if s[0] >= 60), samples[0])
    last = samples[-1]
    growth = (last[1] - warm[1]) / warm[1] * 100
    with (args.out / "samples.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["seconds", "rss_mib", "open_fds"])
        writer.writerows([(round(s, 1), round(r, 1), d) for s, r, d in samples])
    with (args.out / "minutes.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(table[0]))
        writer.writeheader()
        writer.writerows(table)
    plot(samples, table, args.out / "soak.png")
    ok = [o.seconds * 1000 for o in outcomes if o.ok]
    p50, p95, p99 = np.percentile(ok, [50, 95, 99]) if ok else (np.nan,) * 3
    lines = [
        f"{args.minutes:g} minutes, {args.clients} clients at {args.rate:g} requests/s each, "
        f"batches of {args.rows} rows (fraud problem), {args.workers} worker(s), capture on; "
        f"client and server on the same machine ({os.cpu_count()} cores, {platform.machine()}, "
        f"Python {platform.python_version()}), shared with other work.",
        "",
        "| figure | value |",
        "| --- | ---: |",
        f"| requests | {len(outcomes):,} |",
        f"| failed requests | {sum(not o.ok for o in outcomes)} |",
        f"| latency p50 / p95 / p99, ms | {p50:.1f} / {p95:.1f} / {p99:.1f} |",
        f"| RSS at start / after 1 min / at end, MiB | {samples[0][1]:.0f} / {warm[1]:.0f} / "
        f"{last[1]:.0f} |",
        f"| RSS growth from minute 1 to the end | {growth:+.1f} % |",
        f"| open fds at start / max / end | {samples[0][2]} / {max(s[2] for s in samples)} / "
        f"{last[2]} |",
        f"| answered batches missing from the capture | {len(missing)} |",
        f"| exit code after SIGTERM | {exit_code} |",
        "",
        "| minute | requests | failures | p50 ms | p95 ms | p99 ms |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    lines += [
        f"| {r['minute']} | {r['requests']} | {r['failures']} | {r['p50_ms']:.1f} | "
        f"{r['p95_ms']:.1f} | {r['p99_ms']:.1f} |"
        for r in table
    ]
    (args.out / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
