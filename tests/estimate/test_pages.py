"""The estimate on the problem page and in `mara report`: beside the realized metric."""

from pathlib import Path

from eventually import eventually
from labelled_capture import BINARY

from mara.home import Problem
from mara.monitor.aggregate import problem_view
from mara.monitor.estimated import EstimatedPerformance, estimated_rows
from mara.monitor.pages import problem_sections
from mara.monitor.performance import RealizedPerformance
from mara.monitor.store import SummaryStore


def test_estimates_per_version_and_hour_of_served_traffic(home: Path):
    found, note = estimated_rows(home, Problem(*BINARY))
    assert note == ""
    assert [(e.version, e.start_ns // 10**9) for e in found] == [
        ("1", 3600),
        ("1", 7200),
        ("1", 10800),
        ("1", 18000),
    ]
    assert [e.in_region for e in found] == [True, True, True, False]
    assert all(e.n_rows == 1000 and e.realized is not None for e in found)


def test_the_page_puts_estimated_and_realized_side_by_side(home: Path):
    found, _ = estimated_rows(home, Problem(*BINARY))
    realized = RealizedPerformance(home).rows(Problem(*BINARY), [0, 1])
    view = problem_view(SummaryStore(home), "p/bin", since=0.0, now=20000.0)
    html = problem_sections(view, None, realized, estimated=found, estimate_note="a note")
    section = html[html.index('<section id="performance">') :]
    assert section.count("<tr") == 1 + 4  # the header, then one row per hour
    first = found[0]
    assert f"<td>{first.estimate:.4f}</td>" in section
    assert f"<td>{first.low:.4f} – {first.high:.4f}</td>" in section
    served = next(r for r in realized if r.window_start == 3600.0).metrics["auc"]
    assert f"<td>{served:.4f}</td>" in section
    assert section.count("out of region</strong>") == 1 and "a note" in section


def test_the_server_estimates_off_the_request_path(home: Path):
    estimates = EstimatedPerformance(home, ttl_s=3600)
    assert estimates.rows(Problem(*BINARY)) is None  # being computed on its own thread
    done = eventually(
        lambda: estimates.rows(Problem(*BINARY)), "the estimate's thread", timeout_s=300
    )
    found, note = done
    assert len(found) == 4 and note == ""
    assert estimates.rows(Problem(*BINARY))[0] is found  # fresh: not computed again


def test_no_traffic_is_a_note_not_an_error(tmp_path: Path):
    assert estimated_rows(tmp_path, Problem("p", "none")) == ([], "no captured traffic yet")
    html = problem_sections(
        problem_view(SummaryStore(tmp_path), "p/none", since=0.0, now=10.0),
        None,
        [],
        estimated=[],
        estimate_note="no captured traffic yet",
    )
    assert "no estimate is available" in html and "no captured traffic yet" in html
