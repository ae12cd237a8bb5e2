"""Reading a large capture: how long, and how much memory, the one reader takes.

Writes `--rows` captured rows (41-feature network traffic in batches of 2,000, as the server
captures them, through mara's CaptureWriter), labels a tenth of the batches, then measures in
a fresh process each: indexing the whole capture, refreshing after one more batch, and
reading the labelled rows joined to their labels. Peak memory is the reading process's.

    .venv/bin/python benchmarks/capture/run.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mara.capture import CaptureWriter, captured_dir
from mara.data import generate
from mara.data.dirty import frame_rows
from mara.home import Problem
from mara.labels import LabelLedger

HERE = Path(__file__).parent
BATCH = 2000


def write_capture(home: Path, rows: int) -> tuple[list[str], float]:
    frame, spec = generate("network", rows=20_000, seed=0)
    columns = list(spec.features)
    pool = frame_rows(frame, columns)
    labels = frame[spec.target].tolist()
    writer = CaptureWriter(home)
    started = time.perf_counter()
    ids = []
    ledger = []
    for number in range(rows // BATCH):
        first = (number * BATCH) % (len(pool) - BATCH)
        batch_id = f"batch-{number}"
        ids.append(batch_id)
        writer.append(
            Problem("p", "q"),
            {
                "id": batch_id,
                "received_at": 1e9 + number,
                "model_version": "1",
                "columns": columns,
                "rows": pool[first : first + BATCH],
                "predictions": [0.5] * BATCH,
                "drift": 0,
                "drift_report": None,
                "quality": {},
                "server_ms": 10.0,
            },
        )
        if number % 10 == 0:
            ledger.append(
                {
                    "key": batch_id,
                    "rows": list(range(BATCH)),
                    "labels": labels[first : first + BATCH],
                    "labelled_at": 2e9,
                }
            )
    writer.close()
    LabelLedger(home, "p", "q").append(ledger)
    (home / "features.json").write_text(json.dumps(columns))
    return ids, time.perf_counter() - started


def measure(home: Path) -> dict:
    """In this (fresh) process: index, refresh, labelled rows; with peak memory."""
    from mara.capture import CaptureIndex
    from mara.labels import labelled_traffic

    columns = json.loads((home / "features.json").read_text())
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    index = CaptureIndex(home, "p", "q").refresh()
    indexed = time.perf_counter() - t0
    t0 = time.perf_counter()
    index.refresh()
    idle = time.perf_counter() - t0
    t0 = time.perf_counter()
    traffic, _ = labelled_traffic(home, "p", "q", columns)
    joined = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "batches": len(index),
        "index_s": indexed,
        "refresh_nothing_new_ms": idle * 1000,
        "labelled_rows": len(traffic),
        "labelled_read_s": joined,
        "peak_rss_mib": peak / 1024,
        "rss_growth_mib": (peak - base) / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        _, write_s = write_capture(home, args.rows)
        size = sum(p.stat().st_size for p in captured_dir(home, "p", "q").glob("*.jsonl"))
        # Twice, each in a fresh process: the first read parses every line and saves the
        # index beside each file; the second reads those and parses nothing.
        first, second = (
            json.loads(
                subprocess.run(
                    [sys.executable, __file__, "--measure", str(home)],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                .stdout.strip()
                .splitlines()[-1]
            )
            for _ in range(2)
        )
    figures = first | {
        "index_again_s": second["index_s"],
        "labelled_again_s": second["labelled_read_s"],
    }
    figures |= {"rows": args.rows, "capture_mib": size / 2**20, "write_s": write_s}
    lines = [
        f"Reading a capture of {args.rows:,} rows (41 features, {BATCH:,}-row batches, "
        f"{figures['capture_mib']:,.0f} MiB of JSON lines; a tenth of the batches labelled). "
        f"{platform.machine()}, 2 cores, Python {platform.python_version()}.",
        "",
        "| step | figure |",
        "| --- | ---: |",
        f"| write through CaptureWriter | {write_s:.1f} s |",
        f"| index every batch, first read (fresh process) | {figures['index_s']:.1f} s |",
        f"| index every batch, next process (saved index) | "
        f"{figures['index_again_s'] * 1000:.0f} ms |",
        f"| refresh with nothing new | {figures['refresh_nothing_new_ms']:.1f} ms |",
        f"| read the {figures['labelled_rows']:,} labelled rows with their labels | "
        f"{figures['labelled_read_s']:.1f} s (next process {figures['labelled_again_s']:.1f} s) |",
        f"| peak memory of the reading process | {figures['peak_rss_mib']:.0f} MiB |",
    ]
    (HERE / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
