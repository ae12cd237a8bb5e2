"""Shadow scoring in process: what it keeps, and that it never makes a request wait."""

from pathlib import Path

import orjson
import pandas as pd
from problems import binary_frame, request_bodies

from mara.capture import CaptureWriter, shadow_scores
from mara.home import Problem
from mara.registry import CHALLENGER, Registry
from mara.serve.batch import parse_batch
from mara.serve.models import ServedModel, ServedModels
from mara.serve.shadow import SHADOW_STREAM, ShadowScorer, agreed_rows


def challengers(trained_home: Path, version: str) -> ServedModels:
    """phase-1/prob-1's trained model standing as the challenger `version`."""
    bundle = Registry(trained_home).load("phase-1_prob-1")
    served = ServedModel("phase-1_prob-1", version, bundle)
    return ServedModels({("phase-1", "prob-1"): served}, alias=CHALLENGER)


def batches(count: int) -> list:
    bodies = request_bodies(binary_frame(200 * count, 5), 200, "shadow")
    return [
        parse_batch(orjson.dumps({k: v for k, v in b.items() if k != "labels"})) for b in bodies
    ]


def test_a_challenger_scores_live_batches_into_the_shadow_stream(trained_home, tmp_path):
    models = challengers(trained_home, "7")
    scorer = ShadowScorer(models, CaptureWriter(tmp_path, stream=SHADOW_STREAM), cpu_share=1)
    sent = batches(3)
    bundle = models.get(Problem("phase-1", "prob-1")).bundle
    served = [bundle.predict_frame(pd.DataFrame(b.rows, columns=b.names)) for b in sent]
    for batch, predictions in zip(sent, served, strict=True):
        scorer.submit(Problem("phase-1", "prob-1"), "1", batch, predictions)
    scorer.submit(Problem("phase-2", "prob-9"), "1", sent[0], served[0])  # no challenger: ignored
    scorer.close()
    scorer.writer.close()

    scores = shadow_scores(tmp_path, "phase-1", "prob-1")
    assert len(scores) == 600
    assert set(scores["version"]) == {"7"} and set(scores["champion_version"]) == {"1"}
    assert scores["key"].unique().tolist() == [str(b.id) for b in sent]
    # The same model on the same cells: its shadow scores are the served answers exactly.
    assert scores["shadow_prediction"].tolist() == [p for part in served for p in part]
    lines = (
        next(
            (tmp_path / "data" / "captured_data" / "phase-1" / "prob-1" / "shadow").glob(
                "shadow-*.jsonl"
            )
        )
        .read_bytes()
        .splitlines()
    )
    assert [orjson.loads(line)["agreed"] for line in lines] == [200, 200, 200]


def test_the_champion_itself_is_not_shadowed(trained_home, tmp_path):
    scorer = ShadowScorer(challengers(trained_home, "1"), CaptureWriter(tmp_path, stream="shadow"))
    batch = batches(1)[0]
    scorer.submit(Problem("phase-1", "prob-1"), "1", batch, [0.5] * batch.n_rows)
    scorer.close()
    assert shadow_scores(tmp_path, "phase-1", "prob-1").empty


def test_a_burst_is_skipped_beyond_the_queue_not_waited_for(trained_home, tmp_path):
    # A hundredth of a core: after its first batch the thread rests ~100x that batch's time,
    # so a burst of 30 finds the two-slot queue full and the excess is skipped at once.
    scorer = ShadowScorer(
        challengers(trained_home, "7"),
        CaptureWriter(tmp_path, stream="shadow"),
        cpu_share=0.01,
        queue_size=2,
    )
    for batch in batches(30):
        scorer.submit(Problem("phase-1", "prob-1"), "1", batch, [0.5] * batch.n_rows)
    scorer.close(timeout_s=30)
    scored = shadow_scores(tmp_path, "phase-1", "prob-1")["key"].nunique()
    assert 1 <= scored <= 3


def test_a_repeated_batch_id_is_scored_once_and_leaves_room_for_new_ones(trained_home, tmp_path):
    # A client replaying one batch (here 20 times) keeps its one line, and does not fill the
    # three-slot queue that the batches after it need.
    problem = Problem("phase-1", "prob-1")
    scorer = ShadowScorer(
        challengers(trained_home, "7"),
        CaptureWriter(tmp_path, stream="shadow"),
        cpu_share=1,
        queue_size=3,
    )
    replayed, *fresh = batches(3)
    for _ in range(20):
        scorer.submit(problem, "1", replayed, [0.5] * replayed.n_rows)
    for batch in fresh:
        scorer.submit(problem, "1", batch, [0.5] * batch.n_rows)
    scorer.close(timeout_s=30)
    scorer.writer.close()
    keys = shadow_scores(tmp_path, "phase-1", "prob-1")["key"]
    assert keys.unique().tolist() == [str(b.id) for b in (replayed, *fresh)]
    assert len(keys) == 3 * replayed.n_rows
    # Another challenger version scores the same id again: its own evidence.
    other = ShadowScorer(
        challengers(trained_home, "8"), CaptureWriter(tmp_path, stream="shadow"), cpu_share=1
    )
    other.submit(problem, "1", replayed, [0.5] * replayed.n_rows)
    other.close(timeout_s=30)
    other.writer.close()
    folder = tmp_path / "data" / "captured_data" / "phase-1" / "prob-1" / "shadow"
    lines = [
        orjson.loads(line) for f in folder.glob("*.jsonl") for line in f.read_bytes().splitlines()
    ]
    assert sorted((line["version"], line["id"]) for line in lines) == [
        ("7", "shadow-0"),
        ("7", "shadow-1"),
        ("7", "shadow-2"),
        ("8", "shadow-0"),
    ]


def test_agreement_is_the_same_decision():
    assert agreed_rows([0.2, 0.7, 0.5], [0.4, 0.3, 0.9]) == 2
    assert agreed_rows(["a", "b"], ["a", "c"]) == 1


def test_the_shadow_stream_is_read_as_it_grows(tmp_path):
    folder = tmp_path / "data" / "captured_data" / "p" / "q" / "shadow"
    folder.mkdir(parents=True)
    path = folder / "shadow-1.jsonl"

    def line(batch_id: str, predictions: list) -> bytes:
        record = {
            "id": batch_id,
            "version": "2",
            "champion_version": "1",
            "predictions": predictions,
        }
        return orjson.dumps(record) + b"\n"

    path.write_bytes(line("a", [0.1, 0.2]) + b"{damaged\n" + line("b", [0.3])[:-5])
    first = shadow_scores(tmp_path, "p", "q")
    assert first[["key", "row"]].values.tolist() == [["a", 0], ["a", 1]]  # b is unfinished
    with path.open("ab") as file:  # b's line completes; a retried id keeps its first score
        file.write(line("b", [0.3])[-5:] + line("a", [0.9, 0.9]) + line("c", [0.4]))
    scores = shadow_scores(tmp_path, "p", "q")
    assert scores["key"].tolist() == ["a", "a", "b", "c"]
    assert scores["row"].tolist() == [0, 1, 0, 0]
    assert scores["shadow_prediction"].tolist() == [0.1, 0.2, 0.3, 0.4]
    assert set(scores["version"]) == {"2"} and set(scores["champion_version"]) == {"1"}
