"""The demo: four problems generated, trained, served, replayed, labelled, improved, watched."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

__all__ = ["DEMO_PROBLEMS", "DemoProblem", "run_demo"]


@dataclass(frozen=True)
class DemoProblem:
    """One demo problem: which generator, and where it goes."""

    kind: str
    phase: str
    prob: str


DEMO_PROBLEMS = (
    DemoProblem("fraud", "phase-1", "prob-1"),
    DemoProblem("credit", "phase-1", "prob-2"),
    DemoProblem("network", "phase-2", "prob-1"),
    DemoProblem("network-multiclass", "phase-2", "prob-2"),
)


def run_demo(home: Path, *, rows_scale: float = 1.0, console: Console | None = None) -> Table:
    """Run every stage on the embedded default and print a summary table."""
    from mara.bench import load_requests, run_bench
    from mara.data import DEFAULT_ROWS, make_problem
    from mara.serve.process import ServerProcess
    from mara.train import TrainConfig, train_problem

    # Wide enough for the summary table when the output is a file or a CI log.
    console = console or Console(width=max(Console().width, 160))
    home = Path(home)
    trained = {}
    for problem in DEMO_PROBLEMS:
        rows = max(2_000, int(DEFAULT_ROWS[problem.kind] * rows_scale))
        console.rule(f"{problem.phase}/{problem.prob}: {problem.kind}, {rows} rows")
        files = make_problem(
            home, problem.kind, phase=problem.phase, prob=problem.prob, rows=rows, seed=0
        )
        result = train_problem(home, problem.phase, problem.prob, config=TrainConfig(compile=True))
        console.print(result.summary())
        trained[problem] = (files, result)

    table = Table(title="mara demo: held-out traffic replayed over HTTP, batches of 2,000 rows")
    for column in (
        "problem",
        "kind",
        "version",
        "holdout",
        "served score",
        "requests",
        "errors",
        "p50 ms",
        "p99 ms",
        "rows/s",
        "drift flags",
    ):
        table.add_column(column, justify="left" if column in ("problem", "kind") else "right")
    console.rule("serving")
    tokens, token = _demo_token(home)
    with ServerProcess(home, env={"MARA_TOKENS_FILE": str(tokens)}) as server:
        console.print(f"server up at {server.url}; labels, dashboard and metrics need the token")
        for problem, (files, result) in trained.items():
            requests = load_requests(files.requests)
            bench = run_bench(server.url, problem.phase, problem.prob, requests, repeat=3)
            metric = result.metric
            table.add_row(
                f"{problem.phase}/{problem.prob}",
                problem.kind,
                f"v{result.version}",
                f"{metric} {result.metrics[metric]:.4f}",
                "-" if bench.score is None else f"{bench.metric} {bench.score:.4f}",
                str(bench.requests),
                str(bench.errors),
                _ms(bench.p50_ms),
                _ms(bench.p99_ms),
                f"{bench.rows_per_s:,.0f}",
                str(bench.drift_flags),
            )
        console.print(table)
        console.rule("late labels arrive: POST /<phase>/<prob>/labels, then mara improve")
        console.print(_label_and_improve(home, server.url, trained, token))
        console.rule("performance estimated without labels, beside the realized one")
        console.print(_estimates(home, trained))
        console.rule("drift: the same batch as sent, then with every numeric column moved a little")
        console.print(_drifted(home, server.url, trained))
        console.rule("monitoring")
        for path in _reports(home, trained):
            console.print(f"report written: {path}")
        console.print(
            f"dashboard (while a server runs): {server.url}/dashboard, signed in with the "
            f"token in {tokens}; metrics: {server.url}/metrics (Bearer token); "
            f"`MARA_TOKENS_FILE={tokens} mara serve --home {home}` to look again"
        )
    return table


def _demo_token(home: Path) -> tuple[Path, str]:
    """A fresh token for the demo's server, in a file only this user can read."""
    import os
    import secrets

    token = secrets.token_urlsafe(32)
    path = home / "demo-tokens"
    path.unlink(missing_ok=True)
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as file:
        file.write(f"demo:{token}\n")
    return path, token


def _label_and_improve(home: Path, url: str, trained: dict, token: str) -> Table:
    """Send the replayed batches' true labels to the server, then improve every problem.

    The demo's traffic comes from the training distribution, so the gate should keep each
    champion: a challenger trained on more of the same is not better with confidence.
    """
    import httpx
    import orjson

    from mara.improve import improve_problem

    table = Table(title="mara improve: challenger vs champion on the newest labelled traffic")
    for column in (
        "problem",
        "labelled rows",
        "ids joined",
        "champion",
        "challenger",
        "gain",
        "95% interval",
        "decision",
    ):
        table.add_column(column, justify="left" if column in ("problem", "decision") else "right")
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, timeout=60, headers=headers) as client:
        for problem, (files, _) in trained.items():
            lines = files.requests.read_bytes().split(b"\n")
            items = [orjson.loads(line) for line in lines if line.strip()]
            labels = [{"id": body["id"], "labels": body["labels"]} for body in items]
            answer = client.post(f"/{problem.phase}/{problem.prob}/labels", json=labels)
            answer.raise_for_status()
            report = answer.json()
            result = improve_problem(home, problem.phase, problem.prob)
            recent = result.recent
            table.add_row(
                f"{problem.phase}/{problem.prob}",
                f"{report['rows_labelled']:,}",
                str(report["ids_joined"]),
                "-" if recent is None else f"v{result.champion} {recent.champion:.4f}",
                "-" if recent is None else f"v{result.challenger} {recent.challenger:.4f}",
                "-" if recent is None else f"{recent.difference:+.4f}",
                "-" if recent is None else f"[{recent.low:+.4f}, {recent.high:+.4f}]",
                ("promoted" if result.promoted else "kept the champion")
                + ("" if recent is not None else f": {result.reason}"),
            )
    return table


def _estimates(home: Path, trained: dict) -> Table:
    """Each champion's metric on all its traffic, estimated as if no label had come."""
    from mara.estimate import estimate_performance
    from mara.registry import Registry

    registry = Registry(home)
    table = Table(title="mara estimate: what the champion scores, before labels and after")
    for column in ("problem", "version", "rows", "estimated", "95% band", "realized", "region"):
        table.add_column(column, justify="left" if column == "problem" else "right")
    for problem in trained:
        name = f"{problem.phase}_{problem.prob}"
        version = registry.champion_version(name)
        found = estimate_performance(home, problem.phase, problem.prob, version, registry=registry)
        table.add_row(
            f"{problem.phase}/{problem.prob}",
            f"v{version}",
            f"{found.n_rows:,}",
            f"{found.metric} {found.estimate:.4f}",
            f"[{found.low:.4f}, {found.high:.4f}]",
            "-" if found.realized is None else f"{found.realized:.4f}",
            "in" if found.in_region else "out",
        )
    return table


def _drifted(home: Path, url: str, trained: dict) -> Table:
    """The first replayed batch, as sent and with its numeric columns moved by a quarter sd."""
    import httpx
    import numpy as np
    import orjson

    from mara.spec import load_spec

    table = Table(title="the drift flag: one batch, as sent and moved")
    for column in ("problem", "rows", "drift as sent", "drift moved by 0.25 sd"):
        table.add_column(column, justify="left" if column == "problem" else "right")
    with httpx.Client(base_url=url, timeout=60) as client:
        for problem, (files, _) in trained.items():
            spec = load_spec(home, problem.phase, problem.prob)
            with files.requests.open("rb") as lines:
                body = orjson.loads(lines.readline())
            body.pop("labels", None)
            moved = [list(row) for row in body["rows"]]
            for name in spec.numeric:
                j = body["columns"].index(name)
                values = [row[j] for row in moved if isinstance(row[j], int | float)]
                spread = 0.25 * float(np.std(values)) if values else 0.0
                for row in moved:
                    if isinstance(row[j], int | float):
                        row[j] += spread
            route = f"/{problem.phase}/{problem.prob}/predict"
            flags = [
                client.post(route, json=body | {"id": f"{body['id']}-{tag}", "rows": rows}).json()[
                    "drift"
                ]
                for tag, rows in (("again", body["rows"]), ("moved", moved))
            ]
            table.add_row(f"{problem.phase}/{problem.prob}", str(len(moved)), *map(str, flags))
    return table


def _reports(home: Path, trained: dict) -> list[Path]:
    """One self-contained HTML report per problem, as `mara report` writes it."""
    from mara.monitor.report import build_report, registry_champion, write_report

    paths = []
    for problem in trained:
        champion = registry_champion(home, problem.phase, problem.prob)
        path = home / "reports" / f"{problem.phase}-{problem.prob}.html"
        write_report(build_report(home, problem.phase, problem.prob, champion=champion), path)
        paths.append(path)
    return paths


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"
