"""CaptureWriter: a record is in the file when append returns; a failed write is counted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from captures import captured_ids

from mara.capture import CaptureWriter, captured_dir
from mara.home import Problem


def test_a_record_is_in_the_file_when_append_returns(tmp_path: Path):
    writer = CaptureWriter(tmp_path)
    folder = captured_dir(tmp_path, "p", "q")
    for n in range(3):
        size = writer.append(Problem("p", "q"), {"id": n, "rows": [[n, "a\u2028b"]], "drift": 0})
        assert size > 0
        # Not closed, not flushed by anyone: the bytes are already the kernel's.
        assert captured_ids(folder) == list(range(n + 1))
    assert writer.written == 3 and writer.dropped == 0
    writer.close()


def test_files_rotate_at_the_size_limit(tmp_path: Path):
    writer = CaptureWriter(tmp_path, max_file_bytes=200)
    for n in range(10):
        writer.append(Problem("p", "q"), {"id": n, "rows": [[n] * 20]})
    writer.close()
    folder = captured_dir(tmp_path, "p", "q")
    assert len(list(folder.glob("requests-*.jsonl"))) > 1
    assert sorted(captured_ids(folder)) == list(range(10))


# Run apart: a file size limit (RLIMIT_FSIZE) makes the write fail part-way, as a full disk does.
_FULL_DISK = """
import json, resource, signal, sys
from mara.capture import CaptureWriter
from mara.home import Problem
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))
writer = CaptureWriter(sys.argv[1])
sizes = [writer.append(Problem("p", "q"), {"id": 1, "rows": [[1]]}),
         writer.append(Problem("p", "q"), {"id": 2, "rows": [["x" * 10000]]}),
         writer.append(Problem("p", "q"), {"id": 3, "rows": [[3]]})]
writer.close()
print(json.dumps({"sizes": sizes, "written": writer.written, "dropped": writer.dropped}))
"""


def test_a_failed_write_is_counted_and_its_torn_line_is_the_last_of_its_file(tmp_path: Path):
    done = subprocess.run(
        [sys.executable, "-c", _FULL_DISK, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result = json.loads(done.stdout)
    assert result["sizes"][1] == 0
    assert result["written"] == 2 and result["dropped"] == 1
    assert "could not write a batch of p/q" in done.stderr
    folder = captured_dir(tmp_path, "p", "q")
    # The record after the failure went to a new file; the torn one is skipped, and only
    # as the last line of its own file (captured_ids checks that).
    assert sorted(captured_ids(folder)) == [1, 3]
    files = sorted(folder.glob("requests-*.jsonl"))
    assert len(files) == 2
    assert not files[0].read_bytes().endswith(b"\n")
