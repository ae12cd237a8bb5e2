"""A promotion reaches every worker within about a second, and only at full speed.

The server's own record says who answered: each predict answer names the version, the
worker process and whether the forest's served form answered (x-mara-* headers).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from eventually import eventually
from traffic import Load

from mara.registry import Registry
from mara.serve.process import ServerProcess
from mara.train import TrainConfig, train_problem

NAME = "phase-1_prob-1"
# Far longer than any wait below: a swap seen in time came from the alias stamp.
FOLLOW_S = "120"


def test_a_promotion_under_load_is_answered_at_full_speed_by_every_worker(
    trained_home: Path, tmp_path: Path
):
    home = tmp_path / "home"
    shutil.copytree(trained_home, home, ignore=shutil.ignore_patterns("captured_data", "logs"))
    # v2, not compiled in training: the server builds its served form during the swap.
    train_problem(home, "phase-1", "prob-1", config=TrainConfig(seed=1, budget=1, compile=False))
    registry = Registry(home)
    registry.promote(NAME, "1", by="test", reason="serve v1 first")
    server = ServerProcess(
        home, workers=2, extra_args=("--no-capture", "--follow", FOLLOW_S), log_path=tmp_path / "s"
    )
    with server, Load(server.url) as load:
        # The first worker ready answers /health; the second may still be loading.
        workers = eventually(
            lambda: seen if len(seen := {a.worker for a in load.answers}) >= 2 else None,
            "both workers to take the load",
            timeout_s=120,
        )
        moved = time.monotonic()
        registry.promote(NAME, "2", by="test", reason="a new champion under load")
        to_two = load.first_answer("2", workers, moved, timeout_s=60)
        # Each worker answers again before the move back, so that what it answered between
        # the swaps is checked below on at least one request sent after its swap (the last
        # worker's first v2 answer may otherwise be its last answer before the move).
        load.answered_again(to_two, timeout_s=60)
        # Back to v1, whose served form is built: only the alias has to travel.
        moved_back = time.monotonic()
        registry.promote(NAME, "1", by="test", reason="rollback under load")
        to_one = load.first_answer("1", workers, moved_back, timeout_s=30)
        answered = len(load.answers)
        eventually(lambda: len(load.answers) > answered + 20, "answers after the rollback")
    # Each worker reached the moved-back version within a few seconds (the fallback
    # check would have taken FOLLOW_S); the new one once its served form was built, the
    # workers a moment apart (one compiled, the other waited for its object).
    assert max(to_one.values()) - moved_back < 10, to_one
    assert max(to_two.values()) - min(to_two.values()) < 10, to_two
    answers = load.answers
    assert len(answers) > 50
    assert {a.status for a in answers} == {200}
    # Every request, before, during and after both swaps, was answered at full speed.
    assert {a.full_speed for a in answers} == {"1"}
    # Once a worker answered a version, every request sent to it afterwards got that
    # version (until the next move): a worker never went back. A request in flight at the
    # swap may finish with the version it began with.
    for worker in workers:
        mine = [a for a in answers if a.worker == worker]
        between = {a.version for a in mine if a.sent > to_two[worker] and a.at < moved_back}
        assert between == {"2"}, worker
        assert {a.version for a in mine if a.sent > to_one[worker]} == {"1"}
