"""Through a real server: served and labelled traffic, then the estimate on its dashboard."""

import re
import shutil
from pathlib import Path

import httpx
import orjson
import pytest
from eventually import eventually
from problems import binary_frame, request_bodies
from sklearn.metrics import roc_auc_score

from mara.registry import Registry
from mara.serve.process import ServerProcess


@pytest.mark.e2e
def test_the_dashboard_shows_the_estimate_beside_the_realized_metric(home: Path, tmp_path: Path):
    served = tmp_path / "served"
    shutil.copytree(
        home,
        served,
        ignore=shutil.ignore_patterns("captured_data", "labels", "estimates", "monitor", "logs"),
    )
    frame = binary_frame(1000, 60)
    bodies = request_bodies(frame, 250, "live")
    with (
        ServerProcess(served, extra_args=("--no-compile",)) as server,
        httpx.Client(base_url=server.url, timeout=60) as client,
    ):
        for body in bodies:
            sent = {k: v for k, v in body.items() if k != "labels"}
            assert client.post("/p/bin/predict", content=orjson.dumps(sent)).is_success
        labels = [{"id": b["id"], "labels": b["labels"]} for b in bodies]
        assert client.post("/p/bin/labels", content=orjson.dumps(labels)).is_success

        def performance_section() -> str | None:
            page = client.get("/dashboard/p/bin")
            assert page.status_code == 200  # never held up by the estimate being computed
            section = page.text[page.text.index('<section id="performance">') :]
            done = "no labels yet" not in section and "being computed" not in section
            return section if done and "<tbody><tr>" in section else None

        section = eventually(
            performance_section, "the estimate on the problem page", timeout_s=240, every_s=1
        )
    (row,) = re.findall(r"<tbody>(.*?)</tbody>", section)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row)
    version, _, metric, estimate, band, holdout, region, rows, realized, labelled = cells
    assert (version, metric, region, rows, labelled) == ("v1", "auc", "yes", "1,000", "1,000")
    low, high = (float(v) for v in band.split(" – "))
    assert low <= float(estimate) <= high, row
    # The realized AUC beside it is the served predictions' against the labels posted.
    model = Registry(served).load("p_bin")
    expected = roc_auc_score(frame["label"], model.predict_frame(frame))
    assert realized == f"{expected:.4f}"
    assert abs(float(estimate) - expected) < 0.06
    assert (served / "estimates" / "p" / "bin" / "v1.json").exists()
