"""What compiling a large multiclass forest costs, by compiler and option, against its speed.

Fits a 6-class LightGBM forest of 600 trees (100 rounds, 31 leaves) on generated rows, then
builds its native form with each candidate, from a cold cache, one after the other:

- lleaves as mara compiles it (`finline=True`, `fblocksize=34`, large code model), and with
  `finline=False`, `fblocksize` = all trees (no cache blocking), the small code model;
- TL2cgen (Treelite's C code generator, gcc -O2 and -O0, one and two compile jobs), when
  the `bench-compile` dependency group is installed.

For each: compile seconds, the median time to predict 1 and 1,000 rows (one thread), and
the largest gap to LightGBM's own probabilities (mara refuses a served form above
AGREEMENT_TOLERANCE). LightGBM's own predictor is measured too. Writes
benchmarks/serve/compile_options.md.

    .venv/bin/python benchmarks/serve/compile_options.py [--rounds 100] [--classes 6]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import lightgbm as lgb
import numpy as np

from mara.compiled import AGREEMENT_TOLERANCE

HERE = Path(__file__).parent

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/common.py
from common import machine, publish  # noqa: E402

REPEATS = 30


@dataclass(frozen=True)
class Row:
    name: str
    compile_s: float
    one_row_ms: float
    thousand_rows_ms: float
    max_gap: float


def fit_forest(classes: int, rounds: int, seed: int = 0) -> tuple[lgb.Booster, np.ndarray]:
    """A multiclass forest of `classes * rounds` full trees, and 1,000 rows to predict."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((20_000, 20))
    x[rng.random(x.shape) < 0.05] = np.nan
    score = np.nan_to_num(x[:, :classes]) + 0.7 * rng.standard_normal((len(x), classes))
    y = score.argmax(axis=1)
    params = {
        "objective": "multiclass",
        "num_class": classes,
        "num_leaves": 31,
        "min_data_in_leaf": 5,
        "learning_rate": 0.05,
        "verbose": -1,
        "num_threads": 1,
    }
    booster = lgb.train(params, lgb.Dataset(x, y), num_boost_round=rounds)
    return booster, rng.standard_normal((1_000, 20))


def timed_ms(predict: Callable[[np.ndarray], np.ndarray], rows: np.ndarray) -> float:
    predict(rows)
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        predict(rows)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def measure(name: str, build: Callable[[], Callable], rows: np.ndarray, expected) -> Row:
    started = time.perf_counter()
    predict = build()
    compile_s = time.perf_counter() - started
    gap = float(np.max(np.abs(predict(rows) - expected)))
    return Row(name, compile_s, timed_ms(predict, rows[:1]), timed_ms(predict, rows), gap)


def measure_apart(name: str, build, rows: np.ndarray, expected, timeout_s: float) -> Row:
    """`measure` in a child process, given up after `timeout_s` (a compile can run away)."""
    context = multiprocessing.get_context("fork")
    with context.Pool(1) as pool:
        pending = pool.apply_async(measure, (name, build, rows, expected))
        try:
            row = pending.get(timeout_s)
        except multiprocessing.TimeoutError:
            row = Row(f"{name} (gave up)", timeout_s, float("nan"), float("nan"), float("nan"))
    print(row, flush=True)
    return row


@dataclass(frozen=True)
class LleavesBuild:
    """Compile with lleaves and these options (a picklable callable)."""

    model_file: str
    workdir: Path
    options: dict

    def __call__(self) -> Callable:
        import lleaves

        model = lleaves.Model(model_file=self.model_file)
        cache = self.workdir / f"lleaves-{os.getpid()}-{time.time_ns()}.o"
        model.compile(cache=str(cache), **self.options)
        return lambda rows: model.predict(rows, n_jobs=1)


@dataclass(frozen=True)
class Tl2cgenBuild:
    """Generate C with TL2cgen and compile it with gcc (a picklable callable)."""

    model_file: str
    workdir: Path
    opt: str
    jobs: int

    def __call__(self) -> Callable:
        import tl2cgen
        import treelite

        model = treelite.frontend.from_lightgbm(lgb.Booster(model_file=self.model_file))
        lib = self.workdir / f"tl2cgen-{self.opt}-{self.jobs}.so"
        params = {"parallel_comp": self.jobs} if self.jobs > 1 else {}
        tl2cgen.export_lib(model, "gcc", lib, params, nthread=self.jobs, options=[self.opt])
        predictor = tl2cgen.Predictor(lib, nthread=1)
        return lambda rows: predictor.predict(tl2cgen.DMatrix(rows)).reshape(len(rows), -1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--classes", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=300, help="seconds per candidate")
    args = parser.parse_args()
    booster, rows = fit_forest(args.classes, args.rounds)
    trees = booster.num_trees()
    expected = booster.predict(rows, num_threads=1)
    rows_out = [
        Row(
            "LightGBM's own predictor",
            0.0,
            timed_ms(lambda r: booster.predict(r, num_threads=1), rows[:1]),
            timed_ms(lambda r: booster.predict(r, num_threads=1), rows),
            0.0,
        )
    ]
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        model_file = str(workdir / "model.txt")
        booster.save_model(model_file)
        candidates = {
            "lleaves, mara's options (finline, fblocksize 34)": {},
            "lleaves, finline=False": {"finline": False},
            f"lleaves, fblocksize={trees} (no blocking)": {"fblocksize": trees},
            "lleaves, finline=False, fblocksize=all": {"finline": False, "fblocksize": trees},
            "lleaves, small code model": {"fcodemodel": "small"},
        }
        for name, options in candidates.items():
            build = LleavesBuild(model_file, workdir, options)
            rows_out.append(measure_apart(name, build, rows, expected, args.timeout))
        try:
            import tl2cgen  # noqa: F401
        except ImportError:
            print("TL2cgen not installed (dependency group bench-compile): skipped")
        else:
            for opt, jobs in (("-O2", 1), ("-O2", 2), ("-O0", 2)):
                name = f"TL2cgen, gcc {opt}, {jobs} compile job(s)"
                build = Tl2cgenBuild(model_file, workdir, opt, jobs)
                rows_out.append(measure_apart(name, build, rows, expected, args.timeout))
    write_report(rows_out, trees, args.classes)


def write_report(rows: list[Row], trees: int, classes: int) -> None:
    lines = [
        "# Compile time against speed: a large multiclass forest",
        "",
        f"{classes} classes, {trees} trees of 31 leaves, 20 features. `make bench-compile`.",
        f"Machine: {machine()}; **shared with other engineers' work while it ran**,",
        "so absolute times are noisy; every candidate ran in the same process, one after",
        "the other. Predict times are medians of "
        f"{REPEATS} calls on one thread. Gap: the largest absolute difference to",
        f"LightGBM's probabilities (mara refuses a served form above {AGREEMENT_TOLERANCE:g}).",
        "",
        "| form | compile s | 1 row ms | 1,000 rows ms | max gap |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        compile_s = f"{row.compile_s:.1f}" if row.compile_s else "-"
        compile_s = f"> {compile_s}" if row.name.endswith("(gave up)") else compile_s
        lines.append(
            f"| {row.name} | {compile_s} | {row.one_row_ms:.3f} | "
            f"{row.thousand_rows_ms:.2f} | {row.max_gap:.1e} |"
        )
    publish(HERE / "compile_options.md", lines)


if __name__ == "__main__":
    main()
