"""`make demo`'s story, end to end at a small scale: a change, a promotion under traffic, a
rollback."""

from pathlib import Path

import pytest
from rich.console import Console

from mara.demo import DEMO_PROBLEMS, run_demo
from mara.registry import Registry


@pytest.mark.e2e
def test_demo_promotes_under_traffic_and_rolls_back(tmp_path: Path, capfd: pytest.CaptureFixture):
    console = Console(file=(tmp_path / "demo.log").open("w"), width=160)
    # A binary and a multiclass problem: the other two take the same path.
    problems = (DEMO_PROBLEMS[1], DEMO_PROBLEMS[3])
    result = run_demo(tmp_path / "home", rows_scale=0.05, console=console, problems=problems)
    console.file.close()
    output = (tmp_path / "demo.log").read_text()

    # The new segment's labels reveal the change: challengers are promoted.
    assert result.promoted, output
    registry = Registry(tmp_path / "home")
    for problem, version in result.promoted.items():
        moves = registry.alias_history(problem.replace("/", "_"))
        assert any(m.to_version == version for m in moves), output
    # Traffic flowed through every swap, and none of it failed.
    assert result.requests_during_improve > 0
    assert result.failed_during_improve == 0, output
    # The rollback brought the first version's answers back.
    assert result.rollback_restored is True, output
    first = next(iter(result.promoted))
    assert registry.champion_version(first.replace("/", "_")) == "1"
    for problem in problems:
        report = tmp_path / "home" / "reports" / f"{problem.phase}-{problem.prob}.html"
        assert report.stat().st_size > 0
    # MLflow's own lines do not interleave with the demo's.
    printed = "".join(capfd.readouterr())
    assert "Created version" not in printed and "registered model" not in printed.lower()
