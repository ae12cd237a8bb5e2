"""BlendForest: the weighted mean of its parts, at full speed only when every part is."""

from __future__ import annotations

import pickle
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest
from catboost import CatBoostClassifier, Pool

from mara.forests import BlendForest, CatBoostForest, Forest, LightGBMForest
from mara.forests.catboost import features_data


def parts(n_classes: int) -> tuple[np.ndarray, LightGBMForest, CatBoostForest]:
    rng = np.random.default_rng(n_classes)
    x = np.column_stack([rng.normal(size=(1200, 2)), rng.integers(0, 8, size=1200)]).astype(float)
    x[rng.random(x.shape) < 0.1] = np.nan
    y = np.digitize(np.nan_to_num(x[:, 0]) + (x[:, 2] == 3), [0.5] if n_classes == 2 else [0, 1])
    objective = (
        {"objective": "binary"}
        if n_classes == 2
        else {
            "objective": "multiclass",
            "num_class": n_classes,
        }
    )
    booster = lgb.train(
        objective | {"verbosity": -1, "num_threads": 1},
        lgb.Dataset(x, y, categorical_feature=[2]),
        num_boost_round=20,
    )
    model = CatBoostClassifier(iterations=30, thread_count=1, verbose=0, allow_writing_files=False)
    model.fit(Pool(features_data(x, 2), label=y))
    return x, LightGBMForest(booster), CatBoostForest(model, 2)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_the_blend_is_the_weighted_mean_and_pickles(n_classes: int, tmp_path: Path):
    x, lightgbm, catboost = parts(n_classes)
    blend = BlendForest([lightgbm, catboost], [0.3, 0.7])
    assert isinstance(blend, Forest) and blend.learner == "blend"
    expected = 0.3 * lightgbm.predict(x) + 0.7 * catboost.predict(x)
    np.testing.assert_allclose(blend.predict(x), expected, rtol=1e-12)
    assert blend.trees == lightgbm.trees + catboost.trees
    importance = blend.importance()
    assert importance.shape == (3,) and importance.sum() == pytest.approx(1.0)
    # LightGBM's compiled twin is not attached yet: the blend is not at full speed.
    assert not blend.at_full_speed and not blend.is_fast_cached(tmp_path)
    assert blend.make_fast(tmp_path, x[:50]) and blend.at_full_speed
    assert blend.is_fast_cached(tmp_path)
    np.testing.assert_allclose(blend.predict(x), expected, atol=1e-9)
    again = pickle.loads(pickle.dumps(blend))
    assert not again.at_full_speed  # native code is rebuilt (or read from cache) on load
    np.testing.assert_allclose(again.predict(x), expected, rtol=1e-12)
    dirty = np.array([[np.nan, np.nan, np.nan], [0.1, 2.0, 8.0]])
    assert np.all(np.isfinite(again.predict(dirty)))
