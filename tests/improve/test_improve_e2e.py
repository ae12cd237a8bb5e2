"""The loop closed through real processes: serve, label, improve, swap under load, roll back."""

import json
from pathlib import Path

import httpx
import pytest
from command import mara
from eventually import eventually
from problems import binary_frame, new_segment_frame, request_bodies, write_problem
from sklearn.metrics import roc_auc_score
from traffic import SteadyTraffic, send, wait_for_version

from mara.serve.process import ServerProcess
from mara.train import TrainConfig, train_problem

pytestmark = pytest.mark.e2e


# The champion of each learner: the swap, the serving and the rollback hold for any of them.
@pytest.mark.parametrize("champion", ["lightgbm", "catboost", "blend"])
def test_label_improve_swap_under_load_then_roll_back(tmp_path: Path, champion: str):
    home = tmp_path
    write_problem(
        home, "p", "q", binary_frame(6000, 0), ["amount", "age", "noise"], ["channel", "region"]
    )
    first = train_problem(home, "p", "q", config=TrainConfig(learners=(champion,)))
    assert first.recipe["learner"] == champion
    traffic = request_bodies(new_segment_frame(4000, 1), 250, "traffic")
    later = new_segment_frame(2000, 2)
    before, after, back = (request_bodies(later, 500, name) for name in ("pre", "post", "back"))

    with (
        ServerProcess(home, extra_args=("--follow", "1", "--no-compile")) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        for body in traffic:
            send(client, body)
        served_before = [p for body in before for p in send(client, body)]

        # Late labels: half from a file with `mara label`, half POSTed to the server.
        half = len(traffic) // 2
        lines = [json.dumps({"id": b["id"], "labels": b["labels"]}) for b in traffic[:half]]
        (home / "labels.jsonl").write_text("\n".join(lines) + "\n")
        labelled = mara(home, "label", "--phase", "p", "--prob", "q", str(home / "labels.jsonl"))
        assert labelled.returncode == 0, labelled.stderr
        assert f"ids {half}: joined to captured batches {half}, not (yet) captured 0" in (
            labelled.stdout
        )
        posted = client.post(
            "/p/q/labels", json=[{"id": b["id"], "labels": b["labels"]} for b in traffic[half:]]
        )
        assert posted.status_code == 200, posted.text
        assert posted.json()["ids_joined"] == len(traffic) - half

        with SteadyTraffic(server.url, before[0]) as steady:
            improved = mara(
                home, "improve", "--phase", "p", "--prob", "q", "--holdout-tolerance", "0.02"
            )
            assert improved.returncode == 0, improved.stderr
            assert "promoted v2" in improved.stdout, improved.stdout
            wait_for_version(client, "2")
            swapped = len(steady.statuses)
            eventually(lambda: len(steady.statuses) > swapped + 5, "answers after the swap")
        assert len(steady.statuses) > 10
        assert set(steady.statuses) == {200}

        served_after = [p for body in after for p in send(client, body)]
        labels = later["label"].tolist()
        assert roc_auc_score(labels, served_after) > roc_auc_score(labels, served_before) + 0.02

        rolled = mara(home, "rollback", "--phase", "p", "--prob", "q")
        assert rolled.returncode == 0, rolled.stderr
        assert "champion v2 -> v1" in rolled.stdout
        wait_for_version(client, "1")
        assert [p for body in back for p in send(client, body)] == served_before

    history = mara(home, "history", "--phase", "p", "--prob", "q")
    moves = [line.split()[2:6] for line in history.stdout.strip().splitlines()]
    assert moves == [
        ["champion", "(none)", "->", "v1"],
        ["challenger", "(none)", "->", "v2"],
        ["champion", "v1", "->", "v2"],
        ["champion", "v2", "->", "v1"],
    ]
    assert history.stdout.strip().splitlines()[-1].split()[6] == "rollback"
