"""schemathesis against the OpenAPI document the running server serves about itself."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)
from serving import isolated_server

from mara.serve.process import ServerProcess

MAX_ROWS = 500
PREDICT = ["POST /phase-1/prob-1/predict", "POST /phase-1/prob-2/predict"]
LABELS = ["POST /phase-1/prob-1/labels", "POST /phase-1/prob-2/labels"]
OPERATIONS = [*PREDICT, *LABELS, "GET /health"]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
# (operation, status) of every response the generated cases got.
ANSWERS: Counter[tuple[str, int]] = Counter()


@pytest.fixture(scope="module")
def server(trained_home: Path, tmp_path_factory: pytest.TempPathFactory):
    # A home of its own: what it captures holds every kind of text, other tests need not read it.
    with isolated_server(
        trained_home, tmp_path_factory, "schemathesis-home", max_rows=MAX_ROWS
    ) as running:
        yield running


@pytest.fixture(scope="module")
def api_schema(server: ServerProcess) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{server.url}/openapi.json")


def test_the_document_lists_a_predict_operation_per_served_problem(api_schema):
    labels = {result.ok().label for result in api_schema.get_all_operations()}
    assert labels == set(OPERATIONS)


# schemathesis.pytest.from_fixture() reads pytest's Node._nodeid, which pytest 9 removed;
# so each operation's case strategy goes through @given here, with the same checks.
@pytest.mark.parametrize(
    ("label", "mode"),
    [
        *[(label, mode) for label in PREDICT + LABELS for mode in GenerationMode],
        ("GET /health", GenerationMode.POSITIVE),  # takes no input to get wrong
    ],
    ids=str,
)
def test_the_server_honours_its_document(api_schema, label, mode):
    method, path = label.split(" ")
    operation = api_schema[path][method]

    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def honours(case: schemathesis.Case) -> None:
        response = case.call_and_validate(checks=CHECKS, timeout=30)
        ANSWERS[label, response.status_code] += 1

    honours()


def test_the_predict_operations_were_exercised(server):
    """Runs after the schemathesis tests (file order): both outcomes, on every problem."""
    for label in PREDICT:
        assert ANSWERS[label, 200] >= 1, ANSWERS  # most generated batches name no feature
        assert ANSWERS[label, 422] >= 10, ANSWERS
    for label in LABELS:
        assert ANSWERS[label, 422] >= 10, ANSWERS  # labels outside the classes, bad shapes
    assert not [answer for answer in ANSWERS if answer[1] >= 500]
    assert server.process is not None and server.process.poll() is None
    log = server.log_path.read_text()
    assert "unexpected error" not in log
    assert "could not write a batch" not in log
