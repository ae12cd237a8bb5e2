"""Issue 3's promise, checked by hypothesis against the real server process.

Whatever a client puts in a cell is data to be cleaned: the answer is 200 with one
prediction per row. Only a body that is not a batch gets a 4xx, with a JSON body saying
why; nothing a client sends gets a 5xx, and the server keeps serving afterwards.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from serving import ENGINES, isolated_server, server_log

from mara.capture import parse_line
from mara.serve.process import ServerProcess

MAX_ROWS = 500
SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
LABELS = {"attack", "normal", "probe"}


def _is_probability(value: Any) -> bool:
    return type(value) is float and math.isfinite(value) and 0.0 <= value <= 1.0


@dataclass(frozen=True)
class Problem:
    """A served problem as the client sees it."""

    path: str
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    categories: dict[str, tuple[Any, ...]]
    is_prediction: Callable[[Any], bool]

    @property
    def features(self) -> tuple[str, ...]:
        return self.numeric + self.categorical

    def __str__(self) -> str:  # the pytest id
        return self.path


BINARY = Problem(
    "/phase-1/prob-1/predict",
    ("amount", "age", "noise"),
    ("channel", "region"),
    {"channel": ("web", "shop", "phone", "fax"), "region": tuple(range(-1, 23))},
    _is_probability,
)
MULTICLASS = Problem(
    "/phase-1/prob-2/predict",
    ("x", "y"),
    ("proto",),
    {"proto": ("tcp", "udp", "icmp", "sctp")},
    lambda value: value in LABELS,
)
PROBLEMS = [BINARY, MULTICLASS]


# Predict requests answered 200, by problem path: each one must be captured.
SERVED: Counter[str] = Counter()


def post(client: httpx.Client, path: str, body: bytes) -> httpx.Response:
    response = client.post(path, content=body)
    SERVED[path] += response.status_code == 200
    return response


def encode(document: Any) -> bytes:
    """Strict JSON as JavaScript's JSON.stringify writes it: NaN and +-inf become null."""
    return json.dumps(_finite(document), allow_nan=False, ensure_ascii=False).encode()


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value


@pytest.fixture(scope="module", params=ENGINES)
def server(
    request: pytest.FixtureRequest, trained_home: Path, tmp_path_factory: pytest.TempPathFactory
):
    # A home of its own: what it captures holds every kind of text, other tests need not read it.
    SERVED.clear()  # counted per server: each engine's run has its own capture
    with isolated_server(
        trained_home, tmp_path_factory, "dirty-home", max_rows=MAX_ROWS, request=request
    ) as running:
        yield running


@pytest.fixture(scope="module")
def client(server: ServerProcess):
    with httpx.Client(base_url=server.url, timeout=30) as http:
        yield http


# ---------------------------------------------------------------------------------------
# Cells: every JSON type, in the shapes dirty traffic takes.

MISSING_SPELLINGS = ["", " ", "NaN", "nan", "null", "None", "none", "n/a", "N/A", "NA", "?", "-"]

finite = st.floats(allow_nan=False, allow_infinity=False)
# Far beyond 64 bits, yet inside a double's range; larger: test_non_strict_json_gets_200_or_400.
huge_ints = st.integers(min_value=-(10**300), max_value=10**300)
# Sent as null by `encode`, as JSON-only clients do.
any_float = st.floats()
plain_number = st.one_of(st.integers(), huge_ints, any_float)
numeric_text = st.one_of(
    st.integers().map(str),
    finite.map(str),
    finite.map(repr),
    st.sampled_from(["1e5", "-0", "+3", ".5", "5.", "1E-3", "Infinity", "-inf", "0x10", "1_000"]),
)
dirty_number = st.one_of(
    finite.map(lambda x: f"{x:,}"),
    st.integers().map(lambda n: f"{n:,}"),
    finite.map(lambda x: f"${x}"),
    finite.map(lambda x: f"€ {x}"),
    finite.map(lambda x: f"{x}%"),
    finite.map(lambda x: f"  {x}\t"),
    st.sampled_from(["1,234", "1,234.5", "$5", "7%", " 3 ", "$1,000.00", "12 %", "£-4"]),
)
text = st.text(st.characters(codec="utf-8"), max_size=12)
scalar = st.one_of(
    st.none(),
    st.booleans(),
    plain_number,
    numeric_text,
    dirty_number,
    st.sampled_from(MISSING_SPELLINGS),
    text,
)
nested = st.recursive(
    scalar,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=6,
)
any_cell = st.one_of(scalar, nested)
# Columns of one kind take the server's vectorized paths, mixed ones the cell-by-cell path.
column_kinds = st.sampled_from(
    [
        any_cell,
        any_cell,
        scalar,
        st.integers(),
        huge_ints,
        any_float,
        st.booleans(),
        st.none(),
        numeric_text,
        dirty_number,
        st.sampled_from(MISSING_SPELLINGS),
    ]
)
batch_ids = st.one_of(text, st.integers(min_value=-(2**63), max_value=2**64 - 1))
column_names = st.text(st.characters(codec="utf-8"), min_size=1, max_size=10)


@st.composite
def dirty_batches(draw: st.DrawFn, problem: Problem, *, min_size: int = 0) -> dict[str, Any]:
    """Any subset of the features plus unknown columns, in any order, with any cells.

    `min_size` is the least number of feature columns and of rows.
    """
    features = list(problem.features)
    known = draw(st.lists(st.sampled_from(features), unique=True, min_size=min_size))
    unknown = draw(
        st.lists(column_names.filter(lambda n: n not in features), unique=True, max_size=3)
    )
    names = draw(st.permutations(known + unknown))
    kinds = []
    for name in names:
        kind = draw(column_kinds)
        if name in problem.categories:
            kind = st.one_of(kind, st.sampled_from(problem.categories[name]))
        kinds.append(kind)
    rows = draw(st.lists(st.tuples(*kinds).map(list), min_size=min_size, max_size=20))
    return {"id": draw(batch_ids), "columns": names, "rows": rows}


def assert_error(response: httpx.Response, status: int | None = None) -> None:
    """A 4xx (`status` if given) whose JSON body says what is wrong."""
    if status is None:
        assert 400 <= response.status_code < 500, response.text
    else:
        assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body["error"], str) and body["error"]
    assert isinstance(body["detail"], str) and body["detail"]


def assert_predictions(response: httpx.Response, problem: Problem, batch: dict) -> list[Any]:
    """200 with the batch's id, one valid prediction per row and a 0/1 drift flag."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"id", "predictions", "drift"}
    assert body["id"] == batch["id"]
    assert body["drift"] in (0, 1)
    predictions = body["predictions"]
    assert len(predictions) == len(batch["rows"])
    assert all(problem.is_prediction(p) for p in predictions), predictions
    return predictions


def assert_served(response: httpx.Response, problem: Problem, batch: dict) -> None:
    """The contract for a batch that may carry anything in its cells."""
    if batch["rows"] and not set(batch["columns"]) & set(problem.features):
        assert_error(response, 422)
        assert "none of the model's" in response.json()["detail"]
    else:
        assert_predictions(response, problem, batch)


@pytest.mark.parametrize("problem", PROBLEMS, ids=str)
@SETTINGS
@given(data=st.data())
def test_any_json_in_any_cell_gets_one_prediction_per_row(client, problem, data):
    batch = data.draw(dirty_batches(problem), label="batch")
    response = post(client, problem.path, encode(batch))
    event(f"status {response.status_code}")
    assert_served(response, problem, batch)


# ---------------------------------------------------------------------------------------
# Dirty spellings of a value predict exactly as the value does, in any column order.


def _number_spellings(x: float) -> st.SearchStrategy[Any]:
    spellings = [x, str(x), f" {x} ", f"{x}\t", f"{x:,}", f"${x}", f"{x}%", f" {x:,} "]
    if x in (0, 1):
        spellings.append(bool(x))
    return st.sampled_from(spellings)


def _category_spellings(value: Any) -> st.SearchStrategy[Any]:
    if isinstance(value, int):
        return st.sampled_from(
            [value, str(value), float(value), f"{value}.0", f" {value} ", f"{float(value):,}"]
        )
    return st.sampled_from([value, f" {value} ", f"{value}\t", f"\n{value}"])


@st.composite
def clean_and_dirty_rows(draw: st.DrawFn, problem: Problem) -> tuple[dict, dict]:
    """The same rows twice: plain values in feature order, then dirty, shuffled, padded."""
    plain, dirty = [], []
    for _ in range(draw(st.integers(1, 8))):
        row: dict[str, Any] = {}
        spelled: dict[str, Any] = {}
        for name in problem.numeric:
            value = draw(
                st.one_of(
                    st.none(), st.integers(-(10**6), 10**6), st.floats(-1e6, 1e6, allow_nan=False)
                )
            )
            row[name] = value
            spelled[name] = (
                draw(st.sampled_from([None, *MISSING_SPELLINGS]))
                if value is None
                else draw(_number_spellings(value))
            )
        for name in problem.categorical:
            value = draw(st.sampled_from(problem.categories[name]))
            row[name] = value
            spelled[name] = draw(_category_spellings(value))
        plain.append(row)
        dirty.append(spelled)
    features = list(problem.features)
    order = draw(st.permutations([*features, "unknown"]))
    clean_batch = {
        "id": "clean",
        "columns": features,
        "rows": [[row[c] for c in features] for row in plain],
    }
    dirty_batch = {
        "id": "dirty",
        "columns": order,
        "rows": [[row.get(c, "junk") for c in order] for row in dirty],
    }
    return clean_batch, dirty_batch


@pytest.mark.parametrize("problem", PROBLEMS, ids=str)
@settings(SETTINGS, max_examples=100)
@given(data=st.data())
def test_dirty_spellings_predict_as_the_clean_values(client, problem, data):
    clean_batch, dirty_batch = data.draw(clean_and_dirty_rows(problem), label="batches")
    expected = assert_predictions(
        post(client, problem.path, encode(clean_batch)), problem, clean_batch
    )
    answer = assert_predictions(
        post(client, problem.path, encode(dirty_batch)), problem, dirty_batch
    )
    assert answer == expected


# ---------------------------------------------------------------------------------------
# Bodies outside strict JSON that real clients send: Python's json.dumps writes NaN,
# Infinity and -Infinity by default (so does `requests.post(json=...)`); numbers beyond a
# double's range are valid JSON text; some Windows tools put a UTF-8 byte order mark
# first. Strict parsers refuse all of these. The server answers 200 or says 400.

NON_STRICT_NUMBERS = [b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-1E999", str(10**400).encode()]
_SLOT = "\x00raw number {}\x00"


@st.composite
def non_strict_bodies(draw: st.DrawFn, problem: Problem) -> tuple[bytes, dict]:
    """A dirty batch written by json.dumps, with NaN, Infinity or 1e400 in some cells."""
    batch = draw(dirty_batches(problem, min_size=1))
    tokens = draw(st.lists(st.sampled_from(NON_STRICT_NUMBERS), max_size=3))
    for i, _ in enumerate(tokens):
        row = draw(st.sampled_from(batch["rows"]))
        row[draw(st.integers(0, len(row) - 1))] = _SLOT.format(i)
    body = json.dumps(batch).encode()
    for i, token in enumerate(tokens):
        body = body.replace(json.dumps(_SLOT.format(i)).encode(), token)
    if not tokens or draw(st.booleans()):
        body = b"\xef\xbb\xbf" + body
    return body, batch


@pytest.mark.parametrize("problem", PROBLEMS, ids=str)
@settings(SETTINGS, max_examples=60)
@given(data=st.data())
def test_non_strict_json_gets_200_or_400(client, problem, data):
    body, batch = data.draw(non_strict_bodies(problem), label="body")
    response = post(client, problem.path, body)
    event(f"status {response.status_code}")
    if response.status_code == 400:
        assert_error(response, 400)
        assert "not valid JSON" in response.json()["detail"]
    else:
        assert_served(response, problem, batch)


# ---------------------------------------------------------------------------------------
# Bodies that are not batches: a 4xx naming the fault, never a 5xx.

json_values = st.recursive(
    st.none() | st.booleans() | finite | st.integers(-(2**63), 2**63 - 1) | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)
not_an_id = st.one_of(
    st.none(),
    st.booleans(),
    any_float,
    st.lists(json_values, max_size=2),
    st.dictionaries(text, json_values, max_size=2),
)
not_a_list = st.one_of(
    st.none(),
    st.booleans(),
    finite,
    st.integers(),
    text,
    st.dictionaries(text, json_values, max_size=2),
)
REQUIRED = ("id", "columns", "rows")


@st.composite
def good_batches(draw: st.DrawFn, problem: Problem) -> dict[str, Any]:
    """A valid batch with at least one row and one feature column, to be broken."""
    order = draw(st.permutations(problem.features))
    names = list(order[: draw(st.integers(1, len(order)))])
    row = st.lists(scalar, min_size=len(names), max_size=len(names))
    rows = draw(st.lists(row, min_size=1, max_size=5))
    return {"id": draw(batch_ids), "columns": names, "rows": rows}


FAULTS = (
    # not JSON: 400
    "empty", "truncated", "not utf-8", "text", "trailing",
    # JSON but not a batch: 422
    "not an object", "missing key", "bad id", "bad columns", "column not text",
    "duplicate column", "bad rows", "row not a list", "ragged", "no feature",
    # too many rows: 413; no such problem: 404
    "too many rows", "unknown problem",
)  # fmt: skip


@st.composite
def broken_requests(draw: st.DrawFn, fault: str) -> tuple[str, bytes, int]:
    """(path, body, expected status) for a request with this one structural fault."""
    problem = draw(st.sampled_from(PROBLEMS))
    batch = draw(good_batches(problem))
    path, status = problem.path, 422
    if fault == "empty":
        body, status = draw(st.sampled_from([b"", b" ", b"\n\t "])), 400
    elif fault == "truncated":
        full = encode(batch)
        body, status = full[: draw(st.integers(0, len(full) - 1))], 400
    elif fault == "not utf-8":
        full = encode(batch)
        cut = draw(st.integers(0, len(full)))
        bad = draw(st.sampled_from([b"\xff", b"\xc3(", b"\xed\xa0\x80", b"\x80\x80"]))
        body, status = full[:cut] + bad + full[cut:], 400
    elif fault == "text":
        body = draw(
            st.sampled_from(
                [b"id=1&columns=a", b"<batch/>", b"None", b"{'id': 1}", b"undefined", b"{id: 1}"]
            )
        )
        status = 400
    elif fault == "trailing":
        body = encode(batch) + draw(st.sampled_from([b",", b"}", b" x", b"{}"]))
        status = 400
    elif fault == "not an object":
        body = encode(draw(json_values.filter(lambda v: not isinstance(v, dict))))
    elif fault == "missing key":
        missing = draw(st.lists(st.sampled_from(REQUIRED), min_size=1, unique=True))
        body = encode({k: v for k, v in batch.items() if k not in missing})
    elif fault == "bad id":
        body = encode(batch | {"id": draw(not_an_id)})
    elif fault == "bad columns":
        body = encode(batch | {"columns": draw(not_a_list)})
    elif fault == "column not text":
        names = list(batch["columns"])
        names[draw(st.integers(0, len(names) - 1))] = draw(
            json_values.filter(lambda v: not isinstance(v, str))
        )
        body = encode(batch | {"columns": names})
    elif fault == "duplicate column":
        names = list(batch["columns"])
        names.insert(draw(st.integers(0, len(names))), draw(st.sampled_from(names)))
        body = encode(batch | {"columns": names, "rows": [[*r, None] for r in batch["rows"]]})
    elif fault == "bad rows":
        body = encode(batch | {"rows": draw(not_a_list)})
    elif fault == "row not a list":
        rows = list(batch["rows"])
        rows[draw(st.integers(0, len(rows) - 1))] = draw(
            json_values.filter(lambda v: not isinstance(v, list))
        )
        body = encode(batch | {"rows": rows})
    elif fault == "ragged":
        rows = list(batch["rows"])
        i = draw(st.integers(0, len(rows) - 1))
        width = len(batch["columns"])
        length = draw(st.integers(0, width + 3).filter(lambda n: n != width))
        rows[i] = (rows[i] * (length // width + 1))[:length]
        body = encode(batch | {"rows": rows})
    elif fault == "no feature":
        names = draw(
            st.lists(
                column_names.filter(lambda n: n not in problem.features),
                min_size=0,
                max_size=4,
                unique=True,
            )
        )
        body = encode(batch | {"columns": names, "rows": [[1.0] * len(names)] * 3})
    elif fault == "too many rows":
        n = draw(st.integers(MAX_ROWS + 1, 3 * MAX_ROWS))
        body, status = encode(batch | {"rows": [batch["rows"][0]] * n}), 413
    elif fault == "unknown problem":
        path = draw(st.sampled_from(["/phase-9/prob-1", "/phase-1/prob-3", "/x/y"])) + "/predict"
        body, status = encode(batch), 404
    else:
        raise AssertionError(f"no such fault: {fault}")
    return path, body, status


@pytest.mark.parametrize("fault", FAULTS)
@settings(SETTINGS, max_examples=30)
@given(data=st.data())
def test_structural_faults_get_a_4xx_that_says_why(client, fault, data):
    path, body, status = data.draw(broken_requests(fault), label="request")
    assert_error(post(client, path, body), status)


@settings(SETTINGS, max_examples=100)
@given(body=st.binary(max_size=200) | json_values.map(encode))
def test_random_bodies_never_get_a_5xx(client, body):
    """Random bytes and random JSON documents: not a batch, or at most an empty one."""
    response = post(client, BINARY.path, body)
    if response.status_code == 200:
        assert response.json()["predictions"] == []
    else:
        assert_error(response)


def test_the_server_kept_serving_and_captured_every_batch(server, client):
    """Runs after the properties above (pytest keeps file order): nothing broke."""
    assert server.process is not None and server.process.poll() is None
    assert client.get("/health").status_code == 200
    batch = {"id": "after", "columns": ["amount", "channel"], "rows": [[12.5, "web"], [None, 3]]}
    assert_predictions(post(client, BINARY.path, encode(batch)), BINARY, batch)
    server.stop()
    log = server_log(server)
    assert "unexpected error" not in log
    assert "could not write a batch" not in log
    for problem in PROBLEMS:
        phase, prob = problem.path.split("/")[1:3]
        folder = server.home / "data" / "captured_data" / phase / prob
        # JSON Lines: split on b"\n" only; str.splitlines() also splits on U+2028 and the like.
        lines = [
            line
            for path in folder.glob("*.jsonl")
            for line in path.read_bytes().split(b"\n")
            if line
        ]
        assert len(lines) == SERVED[problem.path]
        # Each line is a batch the one reader can read, its rows as sent.
        assert all(isinstance(parse_line(line)["rows"], list) for line in lines)
