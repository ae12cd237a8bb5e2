import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
from problems import binary_frame, multiclass_frame

from mara.compiled import COMPILE_LOG, CompileAhead, is_cached, probe_matrix
from mara.forests import LightGBMForest
from mara.registry import Registry


def test_compiled_forest_predicts_what_lightgbm_predicts(lightgbm_home: Path, tmp_path: Path):
    registry = Registry(lightgbm_home)
    for name, frame in (
        ("phase-1_prob-1", binary_frame(400, 5)),
        ("phase-1_prob-2", multiclass_frame(400, 5)),
    ):
        bundle = registry.load(name)
        assert isinstance(bundle.forest, LightGBMForest)
        interpreted = bundle.predict_frame(frame)
        assert not bundle.is_fast_cached(tmp_path)
        assert bundle.make_fast(tmp_path)
        assert bundle.at_full_speed
        assert is_cached(bundle.forest.booster, tmp_path)
        compiled = bundle.predict_frame(frame)
        if bundle.is_binary:
            assert np.allclose(compiled, interpreted, rtol=0, atol=1e-9)
        else:
            assert compiled == interpreted
        # Missing values and unseen category codes take the same branches.
        mask = bundle.preprocessor.categorical_mask
        counts = iter(bundle.preprocessor.n_categories)
        probe = probe_matrix([next(counts) if c else None for c in mask], seed=3)
        assert np.isnan(probe).any()
        assert np.allclose(
            bundle.forest.compiled.predict(probe),
            bundle.forest.booster.predict(probe),
            rtol=0,
            atol=1e-9,
        )
        # Native code is not pickled with the model; the cache makes reattaching instant.
        clone = pickle.loads(pickle.dumps(bundle))
        assert not clone.at_full_speed
        assert clone.make_fast(tmp_path)


# Waits for the start file, so every process asks at once, then makes one forest fast.
_ASK = """
import sys, time
from pathlib import Path
from mara.registry import Registry
home, name, cache, start = sys.argv[1:]
bundle = Registry(Path(home)).load(name)
while not Path(start).exists():
    time.sleep(0.01)
print(bundle.make_fast(Path(cache)))
"""


def test_processes_asking_at_once_compile_each_forest_once(lightgbm_home: Path, tmp_path: Path):
    cache, start = tmp_path / "cache", tmp_path / "start"
    names = ["phase-1_prob-1", "phase-1_prob-2"]
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _ASK, str(lightgbm_home), name, str(cache), str(start)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for name in names
        for _ in range(3)
    ]
    start.touch()
    answers = [process.communicate(timeout=600)[0].strip() for process in processes]
    assert answers == ["True"] * len(processes)
    # The log has a line per compile run; each process that did not compile loaded the object.
    compiled = [line.split()[2] for line in (cache / COMPILE_LOG).read_text().splitlines()]
    assert len(compiled) == len(names)
    assert len(set(compiled)) == len(names)
    assert list(cache.glob("*.part")) == []
    assert len(list(cache.glob("forest-*.o"))) == len(names)


def test_a_compile_started_ahead_is_the_one_a_later_make_fast_loads(
    lightgbm_home: Path, tmp_path: Path
):
    bundle = Registry(lightgbm_home).load("phase-1_prob-2")
    cache = tmp_path / "cache"
    with CompileAhead(cache) as ahead:
        ahead(bundle.forest.booster)
        # Waits on the child's lock (or compiles, if the child has not taken it yet).
        assert bundle.make_fast(cache)
    lines = (cache / COMPILE_LOG).read_text().splitlines()
    assert len(lines) == 1
    assert list(cache.glob("*.part")) == []
    # Already cached: nothing is started.
    with CompileAhead(cache) as ahead:
        ahead(bundle.forest.booster)
        assert ahead._children == []


def test_a_compile_ahead_not_wanted_is_ended_and_leaves_nothing_half_written(
    lightgbm_home: Path, tmp_path: Path
):
    bundle = Registry(lightgbm_home).load("phase-1_prob-2")
    cache = tmp_path / "cache"
    with CompileAhead(cache) as ahead:
        ahead(bundle.forest.booster)
        ((child, _, model_file),) = ahead._children
    assert child.returncode is not None
    assert not model_file.exists()
    assert list(cache.glob("*.part")) == []
    # Killed before it finished, or finished whole: never a half-written object.
    objects = list(cache.glob("forest-*.o"))
    assert objects == [] or bundle.make_fast(cache)
