"""The poisoning attempt of issue 20, end to end: a client that may only predict labels its
own batches as it likes. Its labels never reach the ledger, so the autopilot does not act and
the served version stays; labels from a credential that is not trusted are kept but never
learned from."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import orjson
import pytest
from problems import binary_frame, new_segment_frame, request_bodies, write_problem
from traffic import send

from mara.autopilot import AuditLog
from mara.improve import ImproveConfig, improve_problem
from mara.labels import LabelLedger
from mara.registry import Registry
from mara.serve.process import ServerProcess
from mara.train import train_problem

OPS = "ops-secret-0123456789abcdef"
PARTNER = "partner-secret-0123456789ab"  # may send labels, not trusted to teach
PROM = "prometheus-secret-0123456789"


def mara(home: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mara", "--home", str(home), *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=os.environ | (env or {}),
    )


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("poison")
    write_problem(
        home, "p", "q", binary_frame(6000, 0), ["amount", "age", "noise"], ["channel", "region"]
    )
    train_problem(home, "p", "q")
    (home / "tokens").write_text(f"ops:{OPS}\npartner:{PARTNER}:labels\nprom:{PROM}:metrics\n")
    return home


def test_labels_without_the_token_never_reach_the_ledger_nor_the_model(home: Path):
    bodies = request_bodies(new_segment_frame(3000, 1), 250, "attack")
    flipped = [{"id": b["id"], "labels": [1 - y for y in b["labels"]]} for b in bodies]
    ledger = LabelLedger(home, "p", "q")
    env = {"MARA_TOKENS_FILE": str(home / "tokens")}
    with (
        ServerProcess(home, extra_args=("--follow", "1", "--no-compile"), env=env) as server,
        httpx.Client(base_url=server.url, timeout=60) as client,
    ):
        served = client.get("/health").json()["models"]["p/q"]["version"]
        for body in bodies:  # predict is open: the attacker's batches are served and kept
            send(client, body)
        for headers, status in (
            ({}, 401),
            ({"Authorization": "Bearer guessed-token-0123456789"}, 401),
            ({"Authorization": f"Bearer {PROM}"}, 403),
            ({"Authorization": f"Basic {OPS}"}, 401),
        ):
            answer = client.post("/p/q/labels", content=orjson.dumps(flipped), headers=headers)
            assert answer.status_code == status, answer.text
        assert ledger.files() == []
        pilot = mara(
            home, "autopilot", "--looks", "2", "--interval", "0.5",
            "--min-drift-labels", "100", "--cooldown", "0", env=env,
        )  # fmt: skip
        assert pilot.returncode == 0, pilot.stderr
        assert AuditLog(home, Registry(home)).read("p", "q") == []  # nothing to act on
        assert client.get("/health").json()["models"]["p/q"]["version"] == served

        # A credential allowed to send labels but not trusted to teach: its labels are kept,
        # with its name, and an improve that trusts only ops never reads them.
        answer = client.post(
            "/p/q/labels",
            content=orjson.dumps(flipped),
            headers={"Authorization": f"Bearer {PARTNER}"},
        )
        assert answer.status_code == 200 and answer.json()["rows_labelled"] == 3000
        assert set(ledger.read()["sender"]) == {"partner"}
        pilot = mara(
            home, "autopilot", "--looks", "2", "--interval", "0.5",
            "--min-drift-labels", "100", "--cooldown", "0", "--trust-sender", "ops", env=env,
        )  # fmt: skip
        assert pilot.returncode == 0, pilot.stderr
        assert AuditLog(home, Registry(home)).read("p", "q") == []
        result = improve_problem(home, "p", "q", config=ImproveConfig(trusted_senders=("ops",)))
        assert result.rows["labelled"] == 0 and not result.promoted
        improve = mara(home, "improve", "--phase", "p", "--prob", "q", "--trust-sender", "ops")
        assert improve.returncode == 0 and "'labelled': 0" in improve.stdout, improve.stdout

        # The trusted operator's labels, posted by `mara label --url` with its token, count.
        path = home / "true.jsonl"
        path.write_bytes(
            b"\n".join(orjson.dumps({"id": b["id"], "labels": b["labels"]}) for b in bodies)
        )
        posted = mara(
            home, "label", "--phase", "p", "--prob", "q", "--url", server.url, str(path),
            env={"MARA_TOKEN": OPS},
        )  # fmt: skip
        assert posted.returncode == 0, posted.stderr
        assert "rows labelled 3000" in posted.stdout
        anonymous = mara(
            home, "label", "--phase", "p", "--prob", "q", "--url", server.url, str(path),
            env={"MARA_TOKEN": ""},
        )  # fmt: skip
        assert anonymous.returncode == 1 and "401" in anonymous.stderr
        trusted = ledger.read(trusted=["ops"])
        assert len(trusted) == 3000 and set(trusted["sender"]) == {"ops"}
        assert client.get("/health").json()["models"]["p/q"]["version"] == served
