"""AppendedLines: complete lines from an offset on, the unfinished last one left for later."""

import logging
from pathlib import Path

import orjson

from mara.files import AppendedLines


def parse(line: bytes) -> dict | None:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return None


def read(path: Path, start: int = 0, **options) -> tuple[list, AppendedLines]:
    lines = AppendedLines(path, parse, start=start, **options)
    return list(lines), lines


def test_a_torn_last_line_is_read_whole_once_a_later_append_finishes_it(tmp_path: Path):
    path = tmp_path / "f.jsonl"
    path.write_bytes(b'{"n": 1}\n{"n": ')
    found, lines = read(path)
    assert found == [(0, 8, {"n": 1})]
    assert lines.end == 9 and lines.unfinished == 6 and lines.damaged == 0
    with path.open("ab") as file:
        file.write(b'2}\n{"n": 3}\n')
    found, lines = read(path, lines.end)
    assert found == [(9, 8, {"n": 2}), (18, 8, {"n": 3})]
    assert lines.end == path.stat().st_size and lines.unfinished == 0


def test_a_damaged_line_is_counted_and_logged_and_the_lines_after_it_are_read(
    tmp_path: Path, caplog
):
    path = tmp_path / "f.jsonl"
    path.write_bytes(b'{"n": 1}\n{"n": \n\n  \n{"n": 2}\n')
    with caplog.at_level(logging.WARNING, logger="mara.files"):
        found, lines = read(path)
    assert [record for _, _, record in found] == [{"n": 1}, {"n": 2}]
    assert lines.damaged == 1  # blank lines are passed over, not counted
    assert "unreadable line at byte 9" in caplog.text
    assert lines.end == path.stat().st_size and lines.unfinished == 0


def test_an_empty_file_and_a_file_read_to_its_end_yield_nothing(tmp_path: Path):
    path = tmp_path / "f.jsonl"
    path.write_bytes(b"")
    found, lines = read(path)
    assert found == [] and (lines.end, lines.damaged, lines.unfinished) == (0, 0, 0)
    path.write_bytes(b'{"n": 1}\n')
    found, lines = read(path, 9)
    assert found == [] and lines.end == 9


def test_lines_split_across_read_chunks_come_whole_at_their_offsets(tmp_path: Path):
    path = tmp_path / "f.jsonl"
    records = [{"n": n, "text": "caf\u00e9 \u2028" * n} for n in range(20)]
    body = b"".join(orjson.dumps(r) + b"\n" for r in records)
    path.write_bytes(body)
    found, lines = read(path, chunk_size=7)
    assert [record for _, _, record in found] == records
    for offset, length, record in found:
        assert orjson.loads(body[offset : offset + length]) == record
    assert lines.end == len(body)


def test_replace_whole_swaps_the_file_and_leaves_nothing_beside_it(tmp_path: Path):
    from mara.files import replace_whole

    path = tmp_path / "deep" / "cache.json"
    replace_whole(path, b"first")
    replace_whole(path, b"second", durable=False)
    assert path.read_bytes() == b"second"
    assert [p.name for p in path.parent.iterdir()] == ["cache.json"]


def test_replace_whole_that_fails_keeps_the_old_file_and_no_partial(tmp_path: Path):
    from mara.files import replace_whole

    path = tmp_path / "cache.json"
    replace_whole(path, b"old")
    (tmp_path / "cache.json.d").mkdir()
    try:
        replace_whole(tmp_path / "cache.json.d", b"new")  # a folder cannot be replaced by a file
    except OSError:
        pass
    else:
        raise AssertionError("replacing a folder by a file should fail")
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache.json", "cache.json.d"]


def test_appended_lines_of_append_line_and_a_torn_tail(tmp_path: Path):
    from mara.files import append_line, new_file_name

    path = tmp_path / "log" / new_file_name("audit")
    assert path.name.startswith("audit-") and path.suffix == ".jsonl"
    append_line(path, b'{"n": 1}\n')
    append_line(path, b'{"n": 2}\n')
    with path.open("ab") as file:
        file.write(b'{"n": ')  # a crash mid-line
    found, lines = read(path)
    assert [record for _, _, record in found] == [{"n": 1}, {"n": 2}]
    assert lines.unfinished == 6
