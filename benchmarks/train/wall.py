"""`mara train` as a user runs it, one problem at a time: wall seconds, CPU seconds, peak memory.

Every benchmark table (mara's generated kinds at their default size, the real tables) and
two larger generated tables (fraud at 40,000 and 50,000 rows, the largest the issue asks
about) are written as problems into a fresh home, then each is trained by its own
`mara train` process under `/usr/bin/time -v`, at the default budget, with compiling on (as
a user does). Writes wall.md. Run it on an idle machine for the wall time a user waits:

    .venv/bin/python benchmarks/train/wall.py [--home DIR] [--tables fraud Chile ...]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from common import machine, publish  # noqa: E402
from tables import REAL, real_table, write_problem  # noqa: E402

from mara.data import KINDS, make_problem  # noqa: E402
from mara.spec import problem_dir  # noqa: E402

MARA = Path(sys.executable).parent / "mara"
LARGE = (40_000, 50_000)


def write_home(home: Path, wanted: set[str] | None) -> list[tuple[str, str, str]]:
    """Write the problems; (name, phase, prob) of each."""
    problems = []
    for kind in KINDS:
        if wanted is None or kind in wanted:
            make_problem(home, kind, phase="gen", prob=kind, seed=0)
            problems.append((kind, "gen", kind))
    for rows in LARGE:
        name = f"fraud-{rows}"
        if wanted is None or name in wanted:
            make_problem(home, "fraud", phase="large", prob=name, rows=rows, seed=0)
            problems.append((f"fraud, {rows:,} rows", "large", name))
    for table in REAL:
        if wanted is None or table.name in wanted:
            write_problem(home, real_table(table), "real", table.name.lower())
            problems.append((table.name, "real", table.name.lower()))
    return problems


def timed_train(home: Path, phase: str, prob: str) -> dict:
    """One `mara train` under /usr/bin/time -v: its figures."""
    load = os.getloadavg()[0]
    command = ["/usr/bin/time", "-v", str(MARA), "--home", str(home), "train"]
    run = subprocess.run(
        [*command, "--phase", phase, "--prob", prob], capture_output=True, text=True, check=True
    )

    def field(name: str) -> str:
        return re.search(rf"{re.escape(name)}: (.+)", run.stderr).group(1).strip()

    minutes, seconds = field("Elapsed (wall clock) time (h:mm:ss or m:ss)").rsplit(":", 1)
    rows = len(pd.read_parquet(problem_dir(home, phase, prob) / "raw_train.parquet"))
    return {
        "rows": rows,
        "wall": float(minutes.split(":")[-1]) * 60 + float(seconds),
        "cpu": float(field("User time (seconds)")) + float(field("System time (seconds)")),
        "peak_mb": int(field("Maximum resident set size (kbytes)")) / 1024,
        "load": load,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--home", type=Path, help="where to write the problems (default: a temp dir)"
    )
    parser.add_argument("--tables", nargs="*", help="only these (kind, fraud-40000, or table name)")
    args = parser.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="mara-wall-"))
    shutil.rmtree(home, ignore_errors=True)
    problems = write_home(home, set(args.tables) if args.tables else None)
    started = time.perf_counter()
    rows = []
    for name, phase, prob in problems:
        figures = timed_train(home, phase, prob)
        rows.append((name, figures))
        print(
            f"{name}: {figures['wall']:.1f} s wall, {figures['cpu']:.1f} CPU s, "
            f"{figures['peak_mb']:.0f} MB peak (load {figures['load']:.1f})",
            flush=True,
        )
    lines = [
        "# `mara train` at the default budget, one problem at a time",
        "",
        "`make bench-train-wall` (`.venv/bin/python benchmarks/train/wall.py`). "
        f"Machine: {machine()}; the run took "
        f"{time.perf_counter() - started:.0f} s. Each problem by its own `mara --home H train "
        "--phase P --prob Q` process under `/usr/bin/time -v` (compile on, as a user runs it): "
        "wall seconds from the command to its exit, CPU seconds (user + system), peak resident "
        "memory. The 1-minute load average when each started is beside it.",
        "",
        "| problem | rows in the table | wall s | CPU s | peak MB | load at start |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, f in rows:
        lines.append(
            f"| {name} | {f['rows']:,} | {f['wall']:.1f} | {f['cpu']:.1f} | "
            f"{f['peak_mb']:.0f} | {f['load']:.1f} |"
        )
    walls = [f["wall"] for _, f in rows]
    peaks = [f["peak_mb"] for _, f in rows]
    lines += [
        "",
        f"Largest wall time {max(walls):.1f} s; largest peak {max(peaks):.0f} MB.",
    ]
    publish(HERE / "wall.md", lines)
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
