import pickle
from pathlib import Path

import numpy as np
import pytest
from problems import binary_frame, multiclass_frame, write_problem

from mara.compiled import is_cached, probe_matrix
from mara.forests import LightGBMForest
from mara.registry import Registry
from mara.train import TrainConfig, train_problem


@pytest.fixture(scope="module")
def lightgbm_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A binary and a multiclass problem with LightGBM champions (trained_home's are not)."""
    home = tmp_path_factory.mktemp("lightgbm")
    columns = (["amount", "age", "noise"], ["channel", "region"])
    write_problem(home, "phase-1", "prob-1", binary_frame(3000, 0), *columns)
    write_problem(
        home, "phase-1", "prob-2", multiclass_frame(3000, 1), ["x", "y"], ["proto"], target="kind"
    )
    config = TrainConfig(budget=2.0, learners=("lightgbm",))
    for prob in ("prob-1", "prob-2"):
        train_problem(home, "phase-1", prob, config=config)
    return home


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
