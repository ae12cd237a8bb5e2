"""The autopilot through real processes: it stages, shadows and promotes a better challenger,
never a shuffled one, and rolls back a bad champion forced in by hand, while the server
keeps answering every request."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import pytest
from command import mara
from eventually import eventually
from problems import binary_frame, new_segment_frame, request_bodies, write_problem
from traffic import SteadyTraffic, send, wait_for_version

from mara.autopilot import AuditLog
from mara.capture import shadow_scores
from mara.registry import CHALLENGER, Registry
from mara.serve.process import ServerProcess
from mara.train import TrainConfig, train_problem

pytestmark = pytest.mark.e2e


def wait_until(what: str, check: Callable[[], bool], log: Path, timeout_s: float = 240.0) -> None:
    eventually(
        check,
        what,
        timeout_s=timeout_s,
        every_s=0.5,
        detail=lambda: log.read_text()[-3000:] if log.exists() else "",
    )


def actions(home: Path) -> list[str]:
    return [entry["action"] for entry in AuditLog(home, Registry(home)).read("p", "q")]


def post_labels(client: httpx.Client, bodies: list[dict], labels: list[list] | None = None) -> None:
    labels = labels or [b["labels"] for b in bodies]
    items = [{"id": b["id"], "labels": y} for b, y in zip(bodies, labels, strict=True)]
    response = client.post("/p/q/labels", json=items)
    assert response.status_code == 200, response.text


# The first champion of each single learner; the challengers are the recipe's choice (on
# this problem a blend, so the bake and the rollback run with a blended champion too).
@pytest.mark.parametrize("champion", ["lightgbm", "catboost"])
def test_autopilot_stages_shadows_promotes_and_rolls_back(tmp_path: Path, champion: str):
    home = tmp_path
    write_problem(
        home, "p", "q", binary_frame(6000, 0), ["amount", "age", "noise"], ["channel", "region"]
    )
    train_problem(home, "p", "q", config=TrainConfig(learners=(champion,)))
    registry = Registry(home)
    first, second, shadowed, baked = (
        request_bodies(new_segment_frame(rows, seed), 250, name)
        for rows, seed, name in (
            (3000, 1, "first"),
            (3000, 2, "second"),
            (1500, 3, "shadowed"),
            (1500, 4, "baked"),
        )
    )
    rng = np.random.default_rng(0)
    shuffled = rng.permutation([y for b in first for y in b["labels"]]).tolist()

    log = home / "autopilot.log"
    with (
        ServerProcess(home, extra_args=("--follow", "1", "--no-compile")) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        pilot = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mara",
                "--home",
                str(home),
                "autopilot",
                "--interval",
                "1",
                "--label-growth",
                "0.5",
                "--min-drift-labels",
                "1000000",
                "--cooldown",
                "0",
                "--estimate-every",
                "2",
                "--shadow",
                "--bake",
                "600",
                "--bake-min-rows",
                "200",
                "--shadow-rows",
                "300",
                "--holdout-tolerance",
                "0.02",
            ],
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            # Shuffled labels: the challenger learns nothing, the gate keeps the champion.
            for body in first:
                send(client, body)
            post_labels(client, first, [shuffled[i : i + 250] for i in range(0, 3000, 250)])
            wait_until("a first improve run", lambda: "keep" in actions(home), log)
            assert registry.champion_version("p_q") == "1"
            assert registry.alias_version("p_q", CHALLENGER) is None

            # True labels for new traffic (and the first, relabelled): a better challenger,
            # staged, not promoted yet.
            for body in second:
                send(client, body)
            post_labels(client, first)
            post_labels(client, second)
            wait_until("a staged challenger", lambda: "stage" in actions(home), log)
            assert registry.champion_version("p_q") == "1"
            assert registry.alias_version("p_q", CHALLENGER) == "3"

            # Live traffic is shadowed by v3 while v1 answers; once its labels are in, the
            # autopilot promotes v3 and the server swaps it in with every request answered.
            with SteadyTraffic(server.url, shadowed[0]) as steady:
                for body in shadowed:
                    send(client, body)
                    time.sleep(0.3)  # the shadow thread keeps a quarter of a core
                wait_until("shadow scores", lambda: len(shadow_scores(home, "p", "q")) >= 300, log)
                post_labels(client, shadowed)
                wait_until("a promotion", lambda: "promote" in actions(home), log)
                wait_for_version(client, "3")
                swapped = len(steady.statuses)
                eventually(lambda: len(steady.statuses) > swapped + 5, "answers after the swap")
            assert len(steady.statuses) > 10 and set(steady.statuses) == {200}
            scores = shadow_scores(home, "p", "q")
            assert set(scores["version"]) == {"3"} and set(scores["champion_version"]) == {"1"}
            shadow_report = mara(home, "shadow", "--phase", "p", "--prob", "q")
            assert "no challenger beside champion v3" in shadow_report.stdout

            # A bad champion forced in by hand is rolled back by the autopilot as it bakes.
            forced = mara(home, "promote", "--phase", "p", "--prob", "q", "--version", "2")
            assert forced.returncode == 0, forced.stderr
            wait_until("a bake", lambda: "bake" in actions(home), log)
            wait_for_version(client, "2")
            for body in baked:
                send(client, body)
            post_labels(client, baked)
            wait_until("a rollback", lambda: "rollback" in actions(home), log)
            assert registry.champion_version("p_q") == "3"
            wait_for_version(client, "3")
        finally:
            pilot.send_signal(signal.SIGTERM)
            assert pilot.wait(60) == 0, log.read_text()

    assert actions(home) == [
        "improve",
        "keep",
        "improve",
        "stage",
        "improve",
        "promote",
        "bake",
        "rollback",
    ]
    history = mara(home, "history", "--phase", "p", "--prob", "q").stdout.strip().splitlines()
    moves = [line.split()[2:7] for line in history]
    assert moves == [
        ["champion", "(none)", "->", "v1", "train"],
        ["challenger", "(none)", "->", "v3", "improve"],
        ["champion", "v1", "->", "v3", "improve"],
        ["champion", "v3", "->", "v2", "promote"],
        ["champion", "v2", "->", "v3", "rollback"],
    ]
    assert "autopilot:" in history[-1] and "worse than its predecessor" in history[-1]
