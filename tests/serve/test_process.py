"""wait_until_ready: the one wait for a child process's HTTP endpoint, on real processes."""

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from eventually import eventually

from mara.errors import MaraError
from mara.serve.process import free_port, terminate, wait_until_ready


def start(tmp_path: Path, *args: str) -> tuple[subprocess.Popen, Path]:
    """A Python child in `tmp_path`, its stdout and stderr in child.log."""
    log_path = tmp_path / "child.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, *args], stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path
        )
    return process, log_path


def test_it_returns_once_a_real_server_answers_200(tmp_path: Path):
    port = free_port()
    (tmp_path / "ready").write_text("yes")
    process, log_path = start(tmp_path, "-m", "http.server", str(port), "--bind", "127.0.0.1")
    try:
        url = f"http://127.0.0.1:{port}/ready"
        wait_until_ready(url, process, name="http.server", timeout_s=60, log_path=log_path)
        assert httpx.get(url, timeout=5).text == "yes"
    finally:
        terminate(process, 10)


def test_a_process_that_dies_is_named_with_its_exit_code_and_its_last_words(tmp_path: Path):
    # A long log first: only its last lines are read and shown.
    code = (
        "import sys\n"
        "for n in range(5000): print('line', n)\n"
        "print('loading')\n"
        "sys.exit('cannot bind: address in use')"
    )
    process, log_path = start(tmp_path, "-c", code)
    with pytest.raises(MaraError) as caught:
        wait_until_ready(
            f"http://127.0.0.1:{free_port()}/health",
            process,
            name="the child",
            timeout_s=60,
            log_path=log_path,
        )
    message = str(caught.value)
    assert message.startswith("the child exited with code 1 before http://127.0.0.1:")
    # The log's last 20 lines, not all 5,002.
    assert f"last lines of {log_path}:\n  line 4982\n  line 4983\n" in message
    assert message.endswith("  line 4999\n  loading\n  cannot bind: address in use")
    assert message.count("\n") == 20


def test_a_process_that_never_answers_runs_out_of_time_by_name(tmp_path: Path):
    process, log_path = start(
        tmp_path, "-c", "import time; print('still starting', flush=True); time.sleep(60)"
    )
    url = f"http://127.0.0.1:{free_port()}/health"
    try:
        # Its first words are in the log before the 1 s starts, however slow the machine.
        eventually(
            lambda: "still starting" in log_path.read_text(), "its first words", every_s=0.05
        )
        with pytest.raises(MaraError) as caught:
            wait_until_ready(url, process, name="slow", timeout_s=1, log_path=log_path)
    finally:
        terminate(process, 10)
    assert f"slow not ready: {url} did not answer 200 in 1 s" in str(caught.value)
    assert "still starting" in str(caught.value)


def test_only_a_loopback_address_is_polled(tmp_path: Path):
    process, _ = start(tmp_path, "-c", "pass")
    process.wait(30)
    for url in ("http://10.0.0.1:80/health", "http://example.org/health"):
        with pytest.raises(ValueError, match="only a loopback address"):
            wait_until_ready(url, process, name="x", timeout_s=1)
