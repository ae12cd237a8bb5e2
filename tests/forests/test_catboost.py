"""CatBoostForest: the matrix's categories as CatBoost categories, dirty rows, pickling."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from catboost import CatBoostClassifier, Pool

from mara.forests import CatBoostForest, Forest
from mara.forests.catboost import MISSING, category_strings, features_data

N_NUMERIC, LEVELS = 2, 30


def matrix(rows: int, seed: int) -> np.ndarray:
    """Two numeric columns, then two category-code columns of LEVELS levels, 10% missing."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, LEVELS, size=(rows, 2)).astype(float)
    x = np.column_stack([rng.normal(size=(rows, N_NUMERIC)), codes])
    x[rng.random(x.shape) < 0.1] = np.nan
    return x


def fitted(n_classes: int) -> CatBoostForest:
    x = matrix(1500, 0)
    signal = np.nan_to_num(x[:, 0]) + (x[:, 2] % 3 == 0)
    y = np.digitize(signal, [0.5] if n_classes == 2 else [0.0, 0.8])
    model = CatBoostClassifier(
        iterations=60, thread_count=1, verbose=0, allow_writing_files=False, random_seed=0
    )
    model.fit(Pool(features_data(x, N_NUMERIC), label=y))
    return CatBoostForest(model, N_NUMERIC)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_predictions_survive_a_pickle_round_trip(n_classes: int, tmp_path: Path):
    forest = fitted(n_classes)
    assert isinstance(forest, Forest)
    x = matrix(1000, 1)
    proba = forest.predict(x)
    assert proba.shape == ((1000,) if n_classes == 2 else (1000, n_classes))
    assert np.all((proba >= 0) & (proba <= 1))
    again = pickle.loads(pickle.dumps(forest))
    np.testing.assert_array_equal(again.predict(x), proba)
    # One row at a time answers as the batch does (the served path for a 1-row request).
    np.testing.assert_allclose(again.predict(x[:1]), proba[:1], rtol=1e-12)
    assert again.make_fast(tmp_path, x[:10]) and again.at_full_speed
    assert again.is_fast_cached(tmp_path)
    assert again.trees == 60
    assert again.importance().shape == (4,) and again.importance().sum() > 0


def test_dirty_rows_predict_without_error():
    forest = fitted(2)
    dirty = np.array(
        [
            [np.nan, np.nan, np.nan, np.nan],  # every cell missing
            [0.3, -1.0, LEVELS, LEVELS],  # unseen levels (code K)
            [1e300, -1e300, 5.0, 7.0],  # extreme numbers
        ]
    )
    proba = forest.predict(dirty)
    assert proba.shape == (3,) and np.all(np.isfinite(proba))


def test_categories_are_strings_and_missing_is_its_own():
    codes = np.array([[0.0, np.nan], [12.0, 3.0], [2000.0, 1.0]])
    strings = category_strings(codes)
    assert strings.tolist() == [["0", MISSING], ["12", "3"], ["2000", "1"]]
    # Numbers only, or categories only: both halves are optional.
    assert features_data(np.ones((2, 2)), 2).get_cat_feature_count() == 0
    assert features_data(codes, 0).get_num_feature_count() == 0
