"""Compiled forests: a LightGBM booster turned into native code with lleaves.

LightGBM walks its trees in an interpreter; lleaves compiles them with LLVM into one
function, several times faster on a 2,000-row batch and exact to float rounding. Compiling
takes seconds per hundred trees, so it runs off the request path and its object file is
cached by the model's content. One process compiles a given forest: the others wait on the
object's lock file and load what it wrote (a content-keyed object is written once, whole).
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import lightgbm as lgb
import numpy as np

from mara.home import Home

__all__ = [
    "COMPILE_LOG",
    "CompileAhead",
    "CompiledForest",
    "compile_forest",
    "compiled_cache",
    "is_cached",
    "object_file",
    "probe_matrix",
]

log = logging.getLogger(__name__)

# Largest gap allowed between compiled and interpreted predictions before the compiled
# forest is refused: both compute in float64, so only summation order differs.
AGREEMENT_TOLERANCE = 1e-9

# lleaves.Model.compile's options. Without inlining, a 600-tree 6-class forest compiles
# about 5 times faster and predicts 1,000 rows within 10 % of the inlined code
# (benchmarks/serve/compile_options.md); part of the cache key.
COMPILE_OPTIONS: dict[str, object] = {"finline": False}

# One line per compile actually run (not per object loaded): when, which process, which
# forest, how long. Kept in the cache directory, beside the objects.
COMPILE_LOG = "compiles.log"


def compiled_cache(home: Path) -> Path:
    """Where a project's compiled forests are kept, keyed by model content and machine."""
    return Home(home).compiled_cache()


class CompiledForest:
    """A booster's native twin: `predict(matrix)` gives what `booster.predict` gives."""

    def __init__(self, model: object):
        self._model = model

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        """Raw model output (probabilities), as `lgb.Booster.predict` returns it."""
        return self._model.predict(matrix, n_jobs=1)


def _model_key(text: str) -> str:
    machine = f"{platform.machine()}-{platform.python_version()}"
    options = ",".join(f"{k}={v}" for k, v in sorted(COMPILE_OPTIONS.items()))
    return hashlib.sha256(f"{machine}\n{options}\n{text}".encode()).hexdigest()[:24]


def compile_forest(booster: lgb.Booster, cache_dir: Path) -> CompiledForest:
    """Compile (or load from `cache_dir`) the native twin of a booster.

    Processes that ask for the same forest at once take turns on its lock file: the first
    compiles and writes the object atomically, the rest load that object in milliseconds.
    """
    return _compile_text(booster.model_to_string(), cache_dir)


def _compile_text(text: str, cache_dir: Path) -> CompiledForest:
    import lleaves

    key = _model_key(text)
    cache_dir.mkdir(parents=True, exist_ok=True)
    cache = _cache_file(cache_dir, key)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as file:
        file.write(text)
    try:
        model = lleaves.Model(model_file=file.name)
        with _locked(cache.with_suffix(".lock")):
            if cache.exists():
                model.compile(cache=str(cache), **COMPILE_OPTIONS)
            else:
                started = time.perf_counter()
                partial = cache.with_name(f"{cache.name}.{os.getpid()}.part")
                try:
                    model.compile(cache=str(partial), **COMPILE_OPTIONS)
                    os.replace(partial, cache)
                finally:
                    partial.unlink(missing_ok=True)
                _record_compile(cache_dir, key, model.num_trees(), time.perf_counter() - started)
    finally:
        Path(file.name).unlink(missing_ok=True)
    return CompiledForest(model)


class CompileAhead:
    """Compiles run in other processes while this one works on (`mara train` fits CatBoost
    meanwhile, on one core of two): call it with a booster to start one.

    The child writes the object into the content-keyed cache under its lock, so a later
    `compile_forest` of the same booster here waits for it and loads it. On leaving the
    block every child still running is ended, and what it left half-written is removed.
    """

    def __init__(self, cache_dir: Path):
        self.cache_dir = cache_dir
        self._children: list[tuple[subprocess.Popen, Path, Path]] = []

    def __call__(self, booster: lgb.Booster) -> None:
        text = booster.model_to_string()
        cache = _cache_file(self.cache_dir, _model_key(text))
        if cache.exists():
            return
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as file:
            file.write(text)
        command = [sys.executable, "-m", "mara.compiled", file.name, str(self.cache_dir)]
        # Its failure costs nothing but the head start: the forest is compiled here then.
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._children.append((child, cache, Path(file.name)))

    def __enter__(self) -> CompileAhead:
        return self

    def __exit__(self, *exc: object) -> None:
        for child, cache, model_file in self._children:
            if child.poll() is None:
                child.kill()
            child.wait()
            cache.with_name(f"{cache.name}.{child.pid}.part").unlink(missing_ok=True)
            model_file.unlink(missing_ok=True)


class _locked:
    """An exclusive `flock` on `path` for the block (released when the process dies, too)."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self) -> None:
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)


def _record_compile(cache_dir: Path, key: str, trees: int, seconds: float) -> None:
    log.info("compiled forest %s (%d trees) in %.1f s", key, trees, seconds)
    line = f"{time.time():.3f} pid={os.getpid()} forest={key} trees={trees} s={seconds:.3f}\n"
    # One short append: O_APPEND keeps concurrent processes' lines whole.
    with open(cache_dir / COMPILE_LOG, "a") as out:
        out.write(line)


def is_cached(booster: lgb.Booster, cache_dir: Path) -> bool:
    """Whether `compile_forest` would only load an object file, in milliseconds."""
    return object_file(booster, cache_dir).exists()


def object_file(booster: lgb.Booster, cache_dir: Path) -> Path:
    """Where a booster's compiled object is cached; its lock file has the suffix `.lock`."""
    return _cache_file(cache_dir, _model_key(booster.model_to_string()))


def _cache_file(cache_dir: Path, key: str) -> Path:
    return cache_dir / f"forest-{key}.o"


def probe_matrix(n_categories: list[int | None], *, rows: int = 512, seed: int = 0) -> np.ndarray:
    """Rows that reach every kind of branch: numbers of all scales, NaN, known and unseen codes.

    `n_categories` has one entry per matrix column: None for numeric, K for categorical.
    """
    rng = np.random.default_rng(seed)
    columns = []
    for k in n_categories:
        if k is None:
            column = rng.standard_normal(rows) * 10.0 ** rng.integers(-2, 5, rows)
        else:
            column = rng.integers(0, k + 1, rows).astype(float)
        column[rng.random(rows) < 0.1] = np.nan
        columns.append(column)
    return np.column_stack(columns)


if __name__ == "__main__":
    # `python -m mara.compiled MODEL_FILE CACHE_DIR`: CompileAhead's child.
    _compile_text(Path(sys.argv[1]).read_text(), Path(sys.argv[2]))
