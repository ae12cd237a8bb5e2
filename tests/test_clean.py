import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mara.clean import category_key, clean_numeric, to_number

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True),
    st.text(max_size=12),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)


@pytest.mark.parametrize(
    ("cell", "number"),
    [
        (1, 1.0),
        (2.5, 2.5),
        (" 3.5 ", 3.5),
        ("1,234.5", 1234.5),
        ("$12", 12.0),
        ("€7.5", 7.5),
        ("15%", 15.0),
        (True, 1.0),
        (False, 0.0),
        ("-3", -3.0),
        ("1e3", 1000.0),
    ],
)
def test_numbers_are_read(cell, number):
    assert to_number(cell) == number
    assert clean_numeric([cell])[0][0] == number


@pytest.mark.parametrize(
    "cell",
    [
        None,
        "",
        "NaN",
        "nan",
        "null",
        "None",
        "n/a",
        "NA",
        "?",
        "-",
        "abc",
        [1],
        {"a": 1},
        math.inf,
        -math.inf,
        "inf",
        float("nan"),
        10**400,
    ],
)
def test_everything_else_is_missing(cell):
    assert math.isnan(to_number(cell))
    assert math.isnan(clean_numeric([cell, 1.0])[0][0])


def test_fast_and_slow_paths_agree_and_count():
    clean = [1.0, 2.0, None, 4]
    numbers, coerced, invalid = clean_numeric(clean)
    assert np.array_equal(numbers, [1.0, 2.0, np.nan, 4.0], equal_nan=True)
    assert (coerced, invalid) == (0, 0)
    dirty = [1, "2", "x", None, "n/a", [3], "1,000", math.inf]
    numbers, coerced, invalid = clean_numeric(dirty)
    assert np.array_equal(
        numbers, [1, 2, np.nan, np.nan, np.nan, np.nan, 1000, np.nan], equal_nan=True
    )
    assert coerced == 2  # "2" and "1,000"
    assert invalid == 3  # "x", [3] and inf


@given(st.lists(json_values, max_size=30))
def test_any_json_column_cleans_to_floats(cells):
    numbers, coerced, invalid = clean_numeric(cells)
    assert numbers.shape == (len(cells),)
    assert numbers.dtype == np.float64
    assert not np.isinf(numbers).any()
    assert 0 <= coerced + invalid <= len(cells)
    expected = np.array([to_number(c) for c in cells])
    assert np.array_equal(numbers, expected, equal_nan=True)


def test_category_keys_agree_across_spellings():
    assert category_key(3) == category_key("3") == category_key("3.0") == category_key(3.0) == "3"
    assert category_key(np.int64(3)) == "3"
    assert category_key("  tcp ") == "tcp"
    assert category_key(True) == category_key(1) == "1"
    assert category_key("1.50") == category_key(1.5)
    for missing in (None, "", "nan", "NULL", float("nan"), [1], {"a": 1}, math.inf):
        assert category_key(missing) is None


@given(json_values)
def test_category_key_never_raises(value):
    key = category_key(value)
    assert key is None or isinstance(key, str)
