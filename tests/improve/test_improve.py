"""mara improve in process: what it learns from, what it refuses, what it records."""

from pathlib import Path

import mlflow
import numpy as np
import pytest
from command import mara
from problems import binary_frame, new_segment_frame, request_bodies, write_problem

from mara.capture import CaptureWriter
from mara.home import Problem
from mara.improve import ImproveConfig, improve_problem
from mara.improve.gate import HOLDOUT_STALE
from mara.improve.shadow import ShadowEvidence, shadow_evidence
from mara.labels import entries_from_objects
from mara.labels.ingest import label_problem
from mara.registry import CHALLENGER, Registry
from mara.spec import load_spec
from mara.train import train_problem

NUMERIC, CATEGORICAL = ["amount", "age", "noise"], ["channel", "region"]


def capture_and_label(home: Path, bodies: list[dict], labels: list[list]) -> None:
    """Traffic as the server captures it, then its late labels, through the real writer."""
    writer = CaptureWriter(home)
    for number, body in enumerate(bodies):
        record = {k: v for k, v in body.items() if k != "labels"}
        writer.append(
            Problem("p", "q"), record | {"received_at": 1000.0 + number, "model_version": "1"}
        )
    writer.close()
    items = [{"id": b["id"], "labels": y} for b, y in zip(bodies, labels, strict=True)]
    label_problem(home, "p", "q", [("test", entries_from_objects(items))])


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("improve")
    write_problem(home, "p", "q", binary_frame(4000, 0), NUMERIC, CATEGORICAL)
    train_problem(home, "p", "q")
    return home


def test_below_the_per_class_floor_nothing_is_trained(home: Path):
    bodies = request_bodies(new_segment_frame(300, 5), 100, "few")
    # 300 labelled rows, but only 29 of the positive class: below a floor of 30 per class.
    labels = [[0] * 100, [0] * 100, [1] * 29 + [0] * 71]
    capture_and_label(home, bodies, labels)
    result = improve_problem(home, "p", "q")
    assert not result.promoted and result.challenger is None
    assert "the floor is 30 rows of each of two classes: nothing trained" in result.reason
    assert "1: 29" in result.reason
    assert Registry(home).versions("p_q") == ["1"]
    # 1,000 rows of both classes from 4 requests: too few to resample.
    bodies = request_bodies(new_segment_frame(1000, 9), 250, "big")
    capture_and_label(home, bodies, [b["labels"] for b in bodies])
    result = improve_problem(home, "p", "q")
    assert not result.promoted and result.challenger is None
    assert "from 7 request(s); the floor is 12 requests" in result.reason
    assert Registry(home).versions("p_q") == ["1"]


@pytest.fixture
def unlabelled_home(tmp_path: Path) -> Path:
    """A home of its own: labels other tests gave would be real signal to learn from."""
    write_problem(tmp_path, "p", "q", binary_frame(4000, 0), NUMERIC, CATEGORICAL)
    train_problem(tmp_path, "p", "q")
    return tmp_path


def test_a_challenger_on_shuffled_labels_is_never_promoted(unlabelled_home: Path):
    home = unlabelled_home
    bodies = request_bodies(new_segment_frame(3000, 6), 250, "shuffled")
    rng = np.random.default_rng(0)
    shuffled = rng.permutation([y for b in bodies for y in b["labels"]]).tolist()
    capture_and_label(home, bodies, [shuffled[i : i + 250] for i in range(0, 3000, 250)])
    result = improve_problem(home, "p", "q", config=ImproveConfig(resamples=300))
    assert not result.promoted, result.summary()
    assert result.challenger == "2"
    registry = Registry(home)
    assert registry.champion_version("p_q") == "1"
    # A rejected challenger is kept as a version, but not as the alias the server shadows.
    assert registry.versions("p_q") == ["1", "2"]
    assert registry.alias_version("p_q", CHALLENGER) is None
    moves = registry.alias_history("p_q")
    assert [(m.alias, m.to_version, m.by) for m in moves] == [("champion", "1", "train")]
    # Every labelled row past the first block is scored out of sample, by 3 chained fits.
    assert result.rows["labelled"] == 3000 and result.rows["chain_fits"] == 3
    assert 0.6 * 3000 <= result.rows["scored"] <= 0.8 * 3000  # blocks cut between requests
    assert result.recent is not None and result.recent.rows == result.rows["scored"]
    assert result.window is not None and result.window[1] > result.window[0]
    # The evidence is in the run that registered the rejected challenger.
    run = mlflow.search_runs(experiment_names=["p_q"], filter_string="tags.`mara.kind` = 'improve'")
    assert run["tags.mara.promoted"].tolist() == ["false"]
    assert run["tags.mara.rule"].iloc[0] == result.rule
    assert run["metrics.chained_gain_high"].iloc[0] == pytest.approx(result.recent.high)
    assert run["metrics.chained_gain_one_sided_low"].iloc[0] == pytest.approx(result.recent.floor)
    # By default the traffic weight is chosen on the traffic: noise earns no weight above 1.
    assert result.weight is not None and result.weight.weight == 1.0, result.weight
    assert result.weight.seconds > 0 and set(result.weight.gains) == {3.0, 10.0}
    assert run["params.traffic_weight_chosen"].iloc[0] == "True"
    assert float(run["params.traffic_weight"].iloc[0]) == 1.0
    assert float(run["params.traffic_weight_seconds"].iloc[0]) > 0
    assert result.recent.low < result.recent.floor < result.recent.high
    assert run["metrics.champion_recent_auc"].iloc[0] == pytest.approx(result.shift.recent)


def test_a_few_hundred_labelled_rows_of_a_strong_change_are_enough(tmp_path: Path):
    # 480 labelled rows (below the old fixed minimum of 667): half of them a new segment
    # with a rule of its own. The champion falls on them, and the interval is clear.
    write_problem(tmp_path, "p", "q", binary_frame(4000, 0), NUMERIC, CATEGORICAL)
    train_problem(tmp_path, "p", "q")
    bodies = request_bodies(new_segment_frame(480, 8, share=0.5), 40, "small")
    capture_and_label(tmp_path, bodies, [b["labels"] for b in bodies])
    result = improve_problem(tmp_path, "p", "q", config=ImproveConfig(resamples=300))
    assert result.promoted, result.summary()
    assert result.recent.low > 0 and result.shift.high < 0
    assert result.rule == HOLDOUT_STALE
    assert Registry(tmp_path).champion_version("p_q") == result.challenger


def test_improve_without_labels_promotes_nothing_and_exits_0(trained_home: Path):
    run = mara(trained_home, "improve", "--phase", "phase-1", "--prob", "prob-1")
    assert run.returncode == 0, run.stderr
    assert "0 labelled traffic row(s)" in run.stdout and "kept the champion" in run.stdout
    assert Registry(trained_home).versions("phase-1_prob-1") == ["1"]


def test_improve_and_rollback_report_clear_errors(tmp_path: Path):
    write_problem(tmp_path, "p", "q", binary_frame(300, 0), NUMERIC, CATEGORICAL)
    untrained = mara(tmp_path, "improve", "--phase", "p", "--prob", "q")
    assert untrained.returncode == 1
    assert "no champion to improve on: run `mara train` first" in untrained.stderr
    assert "Traceback" not in untrained.stderr
    bad = mara(tmp_path, "improve", "--phase", "p", "--prob", "q", "--recent-share", "1.5")
    assert bad.returncode == 2 and "--recent-share" in bad.stderr
    for weight in ("heavy", "0", "-2", "inf"):
        bad = mara(tmp_path, "improve", "--phase", "p", "--prob", "q", "--traffic-weight", weight)
        assert bad.returncode == 2 and "--traffic-weight" in bad.stderr, bad.stderr
    for weight in ("AUTO", "3"):  # auto is the default; a number is still taken
        run = mara(tmp_path, "improve", "--phase", "p", "--prob", "q", "--traffic-weight", weight)
        assert run.returncode == 1 and "no champion to improve on" in run.stderr, run.stderr


# The autopilot hands improve the evidence it computed in the same look; evidence of
# another challenger (the alias moved meanwhile) is computed again, as when none is handed.
@pytest.mark.parametrize("handed", ["current", "stale"])
def test_a_staged_challenger_is_judged_on_its_shadow_rows_and_retired_if_worse(
    tmp_path: Path, handed: str
):
    write_problem(tmp_path, "p", "q", binary_frame(4000, 0), NUMERIC, CATEGORICAL)
    train_problem(tmp_path, "p", "q")
    bodies = request_bodies(new_segment_frame(3000, 6), 250, "staged")
    capture_and_label(tmp_path, bodies, [b["labels"] for b in bodies])
    staged = improve_problem(tmp_path, "p", "q", config=ImproveConfig(resamples=300, stage=True))
    assert staged.staged and not staged.promoted, staged.summary()
    registry = Registry(tmp_path)
    assert registry.champion_version("p_q") == "1"
    assert registry.alias_version("p_q", CHALLENGER) == staged.challenger

    # Live traffic answered by v1 and shadowed by the challenger, whose shadow answers are
    # the opposite of the truth: on those labelled rows it is plainly worse.
    live = request_bodies(new_segment_frame(1000, 7), 250, "live")
    writer, shadow = CaptureWriter(tmp_path), CaptureWriter(tmp_path, stream="shadow")
    for number, body in enumerate(live):
        record = {k: v for k, v in body.items() if k != "labels"}
        served = {
            "received_at": 5000.0 + number,
            "model_version": "1",
            "predictions": [0.9 if y else 0.1 for y in body["labels"]],
        }
        writer.append(Problem("p", "q"), record | served)
        shadow.append(
            Problem("p", "q"),
            {
                "id": body["id"],
                "received_at": 5000.0 + number,
                "champion_version": "1",
                "version": staged.challenger,
                "predictions": [1.0 - y for y in body["labels"]],
            },
        )
    writer.close()
    shadow.close()
    items = [{"id": b["id"], "labels": b["labels"]} for b in live]
    label_problem(tmp_path, "p", "q", [("test", entries_from_objects(items))])

    config = ImproveConfig(resamples=300)
    evidence = {
        "current": shadow_evidence(
            tmp_path, load_spec(tmp_path, "p", "q"), "1", staged.challenger, [0, 1], resamples=300
        ),
        "stale": ShadowEvidence("1", "99", 0, None, None),
    }[handed]
    judged = improve_problem(tmp_path, "p", "q", config=config, shadow=evidence)
    if handed == "current":
        assert judged.shadow is evidence  # used as handed, not computed again
    assert judged.shadow.challenger == staged.challenger and judged.shadow.labelled_rows == 1000
    assert judged.judged_on == "shadowed traffic" and judged.challenger == staged.challenger
    assert not judged.promoted and "challenger retired" in judged.reason
    assert judged.recent.rows == 1000 and judged.recent.challenger == 0.0
    assert registry.champion_version("p_q") == "1"
    assert registry.alias_version("p_q", CHALLENGER) == "1"  # nothing left to shadow
    assert registry.versions("p_q") == ["1", "2"]  # judged, not trained again
