"""Faults and hostile input through real server processes: drain, kill, size limits, overload."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import threading
import time
from pathlib import Path

import httpx
import orjson
import pytest
from captures import captured_ids
from eventually import eventually
from problems import binary_frame
from serving import children

from mara.capture import captured_dir
from mara.serve.process import ServerProcess

PATH = "/phase-1/prob-1/predict"
COLUMNS = ["amount", "age", "noise", "channel", "region"]


def fresh_home(trained_home: Path, factory: pytest.TempPathFactory, name: str) -> Path:
    """A copy of the trained home with no captures, logs or metrics of other tests."""
    home = factory.mktemp(name)
    shutil.copytree(
        trained_home,
        home,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("captured_data", "logs", ".prometheus"),
    )
    return home


def batch_body(rows: list[list], batch_id: str) -> bytes:
    return orjson.dumps({"id": batch_id, "columns": COLUMNS, "rows": rows})


class Load:
    """Client threads that each send batches back to back until stopped or refused.

    An answer other than 200 and an error on a connection the server had accepted are
    failures; a refused connection means the server has stopped listening, and ends a client.
    """

    def __init__(self, url: str, *, clients: int, rows: int, name: str):
        self.url = url
        self.rows = binary_frame(rows, seed=3)[COLUMNS].values.tolist()
        self.name = name
        self.answered: list[tuple[str, float]] = []  # (id, when the answer came)
        self.failures: list[str] = []
        self.refused = 0
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(c,)) for c in range(clients)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=120)

    def wait_for_answers(self, count: int, timeout_s: float = 60) -> None:
        eventually(
            lambda: len(self.answered) >= count,
            f"{count} answers",
            timeout_s=timeout_s,
            every_s=0.05,
            detail=lambda: f"{self.answered[-3:]} {self.failures[:3]}",
        )

    def _run(self, client: int) -> None:
        with httpx.Client(base_url=self.url, timeout=60) as http:
            n = 0
            while not self._stop.is_set():
                batch_id = f"{self.name}-{client}-{n}"
                n += 1
                try:
                    response = http.post(PATH, content=batch_body(self.rows, batch_id))
                except httpx.ConnectError:
                    self.refused += 1
                    return
                except httpx.HTTPError as exc:
                    self.failures.append(f"{batch_id}: {exc!r}")
                    return
                if response.status_code == 200 and response.json()["id"] == batch_id:
                    self.answered.append((batch_id, time.monotonic()))
                else:
                    self.failures.append(f"{batch_id}: {response.status_code} {response.text}")


def poll_health(url: str, statuses: list[int], stop: threading.Event) -> None:
    """Record /health's status every 20 ms until the server stops listening."""
    while not stop.is_set():
        try:
            statuses.append(httpx.get(f"{url}/health", timeout=10).status_code)
        except httpx.TransportError:
            return
        time.sleep(0.02)


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("workers", "sig"), [(1, signal.SIGINT), (2, signal.SIGTERM)], ids=["1-SIGINT", "2-SIGTERM"]
)
def test_a_signal_under_load_drains_every_request_and_exits_0(
    trained_home: Path, tmp_path_factory: pytest.TempPathFactory, workers: int, sig: int
):
    home = fresh_home(trained_home, tmp_path_factory, f"drain-{workers}")
    server = ServerProcess(
        home, workers=workers, extra_args=("--drain-delay", "1"), log_path=home / "serve.log"
    )
    statuses: list[int] = []
    stop_polling = threading.Event()
    with server, Load(server.url, clients=4, rows=300, name="drain") as load:
        load.wait_for_answers(40)
        assert server.process is not None
        server.process.send_signal(sig)
        signalled = time.monotonic()
        poller = threading.Thread(target=poll_health, args=(server.url, statuses, stop_polling))
        poller.start()
        code = server.process.wait(timeout=60)
        stop_polling.set()
        poller.join()
    assert code == 0
    assert load.failures == []
    assert load.refused == 4  # every client ended on a refused connection, none on an error
    # Answers kept coming during the drain, and /health said so meanwhile.
    assert any(when > signalled for _, when in load.answered)
    assert 503 in statuses
    log = (home / "serve.log").read_text()
    assert log.count("Application shutdown complete") == workers
    captured = captured_ids(captured_dir(home, "phase-1", "prob-1"))
    assert len(captured) == len(set(captured))
    assert {batch_id for batch_id, _ in load.answered} <= set(captured)


@pytest.mark.e2e
def test_sigkill_under_load_loses_no_acknowledged_batch(
    trained_home: Path, tmp_path_factory: pytest.TempPathFactory
):
    home = fresh_home(trained_home, tmp_path_factory, "kill")
    server = ServerProcess(home, log_path=home / "serve.log")
    with server, Load(server.url, clients=4, rows=300, name="kill") as load:
        load.wait_for_answers(60)
        assert server.process is not None
        server.process.kill()
        server.process.wait(timeout=30)
    acknowledged = {batch_id for batch_id, _ in load.answered}
    # captured_ids asserts that a torn line, if any, is the last of its file.
    assert acknowledged <= set(captured_ids(captured_dir(home, "phase-1", "prob-1")))


@pytest.mark.e2e
def test_a_worker_killed_under_load_is_replaced_and_loses_no_acknowledged_batch(
    trained_home: Path, tmp_path_factory: pytest.TempPathFactory
):
    home = fresh_home(trained_home, tmp_path_factory, "kill-worker")
    server = ServerProcess(home, workers=2, log_path=home / "serve.log")
    with server, Load(server.url, clients=2, rows=300, name="kill-worker") as load:
        load.wait_for_answers(20)
        assert server.process is not None
        workers = children(server.process.pid)
        assert len(workers) == 2
        os.kill(workers[0], signal.SIGKILL)
        eventually(
            lambda: len(set(children(server.process.pid))) == 2,
            "the killed worker to be replaced",
            timeout_s=120,
        )
        replaced = children(server.process.pid)
        assert workers[0] not in replaced and len(replaced) == 2
        # The clients whose connection the dead worker held stop on the error; the others go on.
        answered = len(load.answered)
        assert httpx.get(f"{server.url}/health", timeout=10).status_code == 200
    assert "died (exit -9); starting another" in (home / "serve.log").read_text()
    assert answered >= 20
    acknowledged = {batch_id for batch_id, _ in load.answered}
    assert acknowledged <= set(captured_ids(captured_dir(home, "phase-1", "prob-1")))


# Limits small enough to hit with test-sized requests: 2 in flight, 2 MB bodies, 1 s for a body.
LIMITS = ("--max-in-flight", "2", "--max-body-bytes", "2000000", "--body-timeout", "1")


@pytest.fixture(scope="module")
def limited(trained_home: Path, tmp_path_factory: pytest.TempPathFactory):
    home = fresh_home(trained_home, tmp_path_factory, "limits")
    with ServerProcess(home, extra_args=LIMITS, log_path=home / "serve.log") as running:
        yield running


def raw_exchange(
    server: ServerProcess, head: bytes, body: bytes = b"", sent: threading.Event | None = None
) -> tuple[int, bytes]:
    """Send bytes on a raw connection, then read until the server closes it: (status, headers).

    `sent` is set once the bytes are handed to the kernel.

    A server that answers before reading the whole body closes with bytes unread, which the
    kernel turns into a reset: once the answer is in, a reset ends the reply as a close does.
    """
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(head + body)
        if sent is not None:
            sent.set()
        reply = b""
        try:
            while chunk := sock.recv(65536):
                reply += chunk
        except ConnectionResetError:
            if b"\r\n\r\n" not in reply:
                raise
    status_line, _, rest = reply.partition(b"\r\n")
    return int(status_line.split()[1]), rest.split(b"\r\n\r\n")[0].lower()


def head(length: int | None = None, *, chunked: bool = False) -> bytes:
    lines = [f"POST {PATH} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def resident_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    return int(next(x for x in status if x.startswith("VmRSS:")).split()[1]) / 1024


def metric(server: ServerProcess, name: str) -> float:
    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    line = next((row for row in text.splitlines() if row.startswith(name + " ")), None)
    return float(line.split()[-1]) if line else 0.0


def test_an_oversized_content_length_gets_413_without_the_body_being_read(limited):
    assert limited.process is not None
    before = resident_mib(limited.process.pid)
    for _ in range(5):
        # 300 MB announced, 64 KiB sent: the answer cannot have waited for the body.
        status, headers = raw_exchange(limited, head(300_000_000), b"[" * 65536)
        assert status == 413
        assert b"connection: close" in headers
    assert resident_mib(limited.process.pid) - before < 20
    assert metric(limited, 'mara_refused_total{reason="body_too_large"}') >= 5
    ok = httpx.post(f"{limited.url}{PATH}", content=batch_body([[1.0, 30, 0, "web", 1]], "after"))
    assert ok.status_code == 200


def test_a_chunked_body_past_the_limit_is_cut_off_with_413(limited):
    chunk = b" " * 262144
    with socket.create_connection((limited.host, limited.port), timeout=10) as sock:
        sock.sendall(head(chunked=True))
        sent = 0
        try:
            while sent < 20_000_000:  # ten times the limit: the server must stop us first
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
        except OSError:  # the server answered and closed while we were still sending
            pass
        reply = sock.recv(65536)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert sent < 20_000_000


def test_a_slow_sender_gets_408_and_does_not_hold_the_worker(limited):
    result: dict[str, object] = {}
    sent = threading.Event()

    def slow() -> None:
        started = time.monotonic()
        result["status"], _ = raw_exchange(limited, head(1000), b'{"id": "slow", ', sent)
        result["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=slow)
    thread.start()
    eventually(sent.is_set, "the slow sender's first bytes", every_s=0.01)
    # Meanwhile the worker answers others.
    answer = httpx.post(f"{limited.url}{PATH}", content=batch_body([[1.0, 30, 0, "web", 1]], "x"))
    assert answer.status_code == 200
    thread.join(timeout=30)
    assert result["status"] == 408
    assert result["seconds"] < 10  # cut at the 1 s body timeout, not held open


def test_a_flood_beyond_the_in_flight_limit_gets_quick_503s_then_recovers(limited):
    rows = binary_frame(20_000, seed=4)[COLUMNS].values.tolist()
    body = batch_body(rows, "flood")
    assert len(body) < 2_000_000
    barrier = threading.Barrier(16)
    responses: list[httpx.Response] = []

    def send() -> None:
        with httpx.Client(timeout=120) as http:
            barrier.wait()
            responses.append(http.post(f"{limited.url}{PATH}", content=body))

    refused_before = metric(limited, 'mara_refused_total{reason="in_flight"}')
    threads = [threading.Thread(target=send) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    statuses = sorted(r.status_code for r in responses)
    assert len(statuses) == 16
    assert set(statuses) == {200, 503}, statuses
    shed = [r for r in responses if r.status_code == 503]
    assert all(r.headers["retry-after"] == "1" and r.json()["error"] == "Overloaded" for r in shed)
    assert metric(limited, 'mara_refused_total{reason="in_flight"}') - refused_before == len(shed)
    # Healthy again at once.
    assert httpx.get(f"{limited.url}/health").status_code == 200
    again = httpx.post(f"{limited.url}{PATH}", content=batch_body(rows[:100], "again"))
    assert again.status_code == 200
    assert metric(limited, "mara_in_flight") == 0
