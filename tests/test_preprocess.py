import pickle

import numpy as np
import pandas as pd
import pytest

from mara.errors import NotFittedError
from mara.preprocess import Preprocessor
from mara.spec import ProblemSpec

SPEC = ProblemSpec("p", "q", ("a", "b"), ("c", "d"), "label")


@pytest.fixture
def fitted() -> Preprocessor:
    frame = pd.DataFrame(
        {
            "a": [1.0, 2.0, 3.0, 4.0],
            "b": ["1", "2", None, "x"],
            "c": ["tcp", "udp", "tcp", "tcp"],
            "d": [3, 4, 3, 5],
            "label": [0, 1, 0, 1],
        }
    )
    return Preprocessor(SPEC).fit(frame)


def test_categories_are_learned_most_frequent_first(fitted):
    assert fitted.categories_ == {"c": ["tcp", "udp"], "d": ["3", "4", "5"]}
    assert fitted.n_categories == [2, 3]
    assert fitted.categorical_mask == [False, False, True, True]


def test_column_order_does_not_matter(fitted):
    columns = {"d": [4, "3.0"], "c": ["udp", " tcp "], "b": [1, 2], "a": [7, "8"]}
    reordered = dict(reversed(list(columns.items())))
    first, _ = fitted.transform_columns(columns, 2)
    second, _ = fitted.transform_columns(reordered, 2)
    assert np.array_equal(first, second)
    assert first.tolist() == [[7.0, 1.0, 1.0, 1.0], [8.0, 2.0, 0.0, 0.0]]


def test_unseen_missing_and_absent(fitted):
    matrix, quality = fitted.transform_columns({"a": ["x", None], "c": ["icmp", None]}, 2)
    assert np.isnan(matrix[:, 0]).all()
    assert matrix[0, 2] == 2.0  # unseen: the code after the known categories
    assert np.isnan(matrix[1, 2])
    assert np.isnan(matrix[:, [1, 3]]).all()
    assert quality.columns_absent == 2
    assert quality.unseen_categories == 1
    assert quality.cells_invalid == 1
    assert quality.cells_missing == 7


def test_unhashable_cells_do_not_break_encoding(fitted):
    matrix, quality = fitted.transform_columns({"c": [["tcp"], {"a": 1}, "udp"]}, 3)
    assert np.isnan(matrix[:2, 2]).all()
    assert matrix[2, 2] == 1.0


def test_frame_and_json_columns_agree(fitted):
    frame = pd.DataFrame({"a": [1.5], "b": [2.0], "c": ["udp"], "d": [5]})
    json_columns = {"a": [1.5], "b": [2.0], "c": ["udp"], "d": [5]}
    assert np.array_equal(fitted.transform(frame), fitted.transform_columns(json_columns, 1)[0])


def test_pickle_round_trip_keeps_behaviour(fitted):
    clone = pickle.loads(pickle.dumps(fitted))
    columns = {"c": ["udp", "new"], "d": ["5", 3]}
    assert np.array_equal(
        clone.transform_columns(columns, 2)[0],
        fitted.transform_columns(columns, 2)[0],
        equal_nan=True,
    )


def test_unfitted_use_is_an_error():
    with pytest.raises(NotFittedError, match="call fit"):
        Preprocessor(SPEC).transform_columns({}, 1)
