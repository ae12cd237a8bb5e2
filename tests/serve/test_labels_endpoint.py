"""POST /<phase>/<prob>/labels on the real server: checked whole, kept whole, or refused whole."""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson
import pytest
from problems import binary_frame, multiclass_frame
from serving import isolated_server

from mara.labels import LabelLedger


@pytest.fixture(scope="module")
def server(trained_home: Path, tmp_path_factory: pytest.TempPathFactory):
    with isolated_server(trained_home, tmp_path_factory, "labels-home", max_rows=1000) as running:
        with httpx.Client(base_url=running.url, timeout=30) as client:
            for batch_id, frame in (("b-3", binary_frame(3, 1)), (4, binary_frame(4, 2))):
                columns = ["amount", "age", "noise", "channel", "region"]
                body = {"id": batch_id, "columns": columns, "rows": frame[columns].values.tolist()}
                assert client.post("/phase-1/prob-1/predict", json=body).status_code == 200
            frame = multiclass_frame(2, 3)
            body = {
                "id": "m",
                "columns": ["x", "y", "proto"],
                "rows": frame[["x", "y", "proto"]].values.tolist(),
            }
            assert client.post("/phase-1/prob-2/predict", json=body).status_code == 200
        yield running


def post(server, problem: str, body: object) -> httpx.Response:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    return httpx.post(f"{server.url}/{problem}/labels", content=content, timeout=30)


def ledger_rows(server, prob: str) -> int:
    return len(LabelLedger(server.home, "phase-1", prob).read())


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        (b"{not json", 400, "body is not valid JSON"),
        ([], 422, "no labels sent"),
        ({"id": "b-3"}, 422, "item 1: 'labels' must be a list"),
        ({"id": None, "labels": [1]}, 422, "item 1: 'id' must be the request's id"),
        ("b-3", 422, "item 1: expected an object"),
        ({"id": "b-3", "labels": [1, 0]}, 422, "item 1: 2 label(s) for batch 'b-3', which has 3"),
        ({"id": 4, "labels": [1, 0, 1, "fraud"]}, 422, "item 1: label 'fraud' of row 3"),
        (
            [{"id": "b-3", "labels": [1, 0, 1]}, {"id": 4, "labels": [1, 2, 0, 0]}],
            422,
            "item 2: label 2 of row 1",
        ),
    ],
)
def test_bad_labels_are_refused_whole_with_where_and_why(server, body, status, detail):
    response = post(server, "phase-1/prob-1", body)
    assert response.status_code == status, response.text
    assert detail in response.json()["detail"]
    assert ledger_rows(server, "prob-1") == 0


def test_an_unknown_problem_is_404(server):
    assert post(server, "phase-9/prob-1", {"id": "b-3", "labels": [1]}).status_code == 404


def test_labels_join_by_id_and_unknown_ids_are_kept(server):
    body = [
        {"id": "b-3", "labels": [1, None, "0"]},
        {"id": "4", "labels": [0, 0, 1, 1]},
        {"id": "not-yet", "labels": [1, 1]},
    ]
    response = post(server, "phase-1/prob-1", body)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["rows_labelled"] == 8 and report["rows_unknown"] == 1
    assert (report["ids_joined"], report["ids_not_found"]) == (2, 1)
    assert report["not_found_sample"] == ["not-yet"]
    assert ledger_rows(server, "prob-1") == 8
    again = post(server, "phase-1/prob-1", {"id": "b-3", "labels": [0, 0, 0]}).json()
    assert again["rows_relabelled"] == 2
    multiclass = post(server, "phase-1/prob-2", {"id": "m", "labels": ["attack", " probe "]})
    assert multiclass.status_code == 200 and multiclass.json()["rows_labelled"] == 2
    assert ledger_rows(server, "prob-2") == 2
