"""The demo: four problems generated, trained, served, changed, labelled, improved, rolled back."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from mara.home import Home

__all__ = ["DEMO_PROBLEMS", "DemoProblem", "DemoResult", "run_demo"]


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


@dataclass
class DemoResult:
    """What the demo's story showed, for its test: promotions, failures, the rollback."""

    promoted: dict[str, str]
    requests_during_improve: int
    failed_during_improve: int
    # After the rollback, the first version's answers to a batch came back unchanged.
    rollback_restored: bool | None


def run_demo(
    home: Path,
    *,
    rows_scale: float = 1.0,
    console: Console | None = None,
    keep_serving: bool = False,
    problems: tuple[DemoProblem, ...] = DEMO_PROBLEMS,
) -> DemoResult:
    """Run every stage on the embedded default and print what each one did.

    The story: four problems are trained and served; their held-out traffic is replayed;
    then a new segment appears in the traffic with a rule of its own, which the late labels
    reveal; `mara improve` promotes challengers while traffic keeps flowing, and the server
    swaps them in; a rollback brings a first version back. `keep_serving` leaves the server
    (and its dashboard) running at the end until Ctrl-C. `problems` may be fewer (tests).
    """
    from mara.bench import load_requests, run_bench
    from mara.data import DEFAULT_ROWS, make_problem
    from mara.serve.process import ServerProcess
    from mara.train import TrainConfig, train_problem

    # Wide enough for the summary table when the output is a file or a CI log.
    console = console or Console(width=max(Console().width, 160))
    home = Path(home)
    trained = {}
    for problem in problems:
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
    # The server checks the champion alias every second: the swaps below show at once.
    env = {"MARA_TOKENS_FILE": str(tokens)}
    with ServerProcess(home, extra_args=("--follow", "1"), env=env) as server:
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
        console.rule("the world changes: a new segment arrives, with a rule of its own")
        changed = _changed_traffic(home, server.url, trained)
        console.print(changed.table)
        console.rule("late labels arrive; mara improve runs while traffic keeps flowing")
        with _Traffic(server.url, changed.bodies) as traffic:
            improved = _label_and_improve(home, server.url, trained, changed.bodies, token)
            promoted = {p: v for p, v in improved.promoted.items() if v is not None}
            traffic.wait_for(promoted)
        console.print(improved.table)
        console.print(traffic.table())
        restored = None
        if promoted:
            console.rule("mara rollback: the first version again")
            rollback = _rollback(home, server.url, changed, next(iter(promoted)))
            console.print(rollback.table)
            restored = rollback.restored
        console.rule("performance estimated without labels, beside the realized one")
        console.print(_estimates(home, trained))
        console.rule("drift: the same batch as sent, then with every numeric column moved a little")
        console.print(_drifted(home, server.url, trained))
        console.rule("monitoring")
        for path in _reports(home, trained):
            console.print(f"report written: {path}")
        console.print(
            f"dashboard: {server.url}/dashboard, signed in with the token in {tokens}; "
            f"metrics: {server.url}/metrics (Bearer token)"
            + (
                ""
                if keep_serving
                else f"; `MARA_TOKENS_FILE={tokens} mara --home {home} serve` to look again"
            )
        )
        if keep_serving:
            console.print("the server keeps running; Ctrl-C stops it")
            with contextlib.suppress(KeyboardInterrupt):
                server.process.wait()
    return DemoResult(
        {f"{p.phase}/{p.prob}": v for p, v in promoted.items()},
        traffic.sent,
        traffic.failed,
        restored,
    )


def _demo_token(home: Path) -> tuple[Path, str]:
    """A fresh token for the demo's server, in a file only this user can read."""
    import os
    import secrets

    token = secrets.token_urlsafe(32)
    path = Home(home).demo_tokens()
    path.unlink(missing_ok=True)
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as file:
        file.write(f"demo:{token}\n")
    return path, token


@dataclass
class _Changed:
    """The changed traffic as sent: bodies (with their labels) and v1's answers, by problem."""

    bodies: dict[DemoProblem, list[dict]]
    answers: dict[DemoProblem, list[list]]
    table: Table


def _changed_traffic(home: Path, url: str, trained: dict) -> _Changed:
    """The held-out rows again, a third of them in a new segment with its own rule, replayed.

    The new segment is a category level never seen in training whose rows follow a rule of
    their own (`mara.data.shift.new_segment`): the champion cannot know it; labels reveal it.
    """
    import httpx
    import numpy as np
    import pandas as pd

    from mara.data.dirty import frame_rows
    from mara.data.shift import new_segment
    from mara.labels.classes import training_classes
    from mara.train.metrics import headline, score

    table = Table(title="the champion on the changed traffic (its labels come later)")
    for column in ("problem", "rows", "new segment rows", "champion's score"):
        table.add_column(column, justify="left" if column == "problem" else "right")
    bodies, answers = {}, {}
    with httpx.Client(base_url=url, timeout=60) as client:
        for problem, (files, result) in trained.items():
            spec = result.spec
            held = pd.read_parquet(files.heldout)
            rng = np.random.default_rng([0, 7])
            frame = new_segment(held, spec, rng, share=0.35)
            columns = [c for c in frame.columns if c != spec.target]
            rows, labels = frame_rows(frame, columns), frame[spec.target].tolist()
            bodies[problem], answers[problem] = [], []
            predictions: list = []
            # Two dozen requests or so: improve resamples requests, and asks for 12 labelled.
            size = min(1000, max(20, len(rows) // 24))
            for start in range(0, len(rows), size):
                body = {
                    "id": f"changed-{problem.phase}-{problem.prob}-{start}",
                    "columns": columns,
                    "rows": rows[start : start + size],
                }
                answer = client.post(f"/{problem.phase}/{problem.prob}/predict", json=body)
                answer.raise_for_status()
                answers[problem].append(answer.json()["predictions"])
                predictions += answers[problem][-1]
                bodies[problem].append(body | {"labels": labels[start : start + size]})
            metrics = score(predictions, labels, training_classes(home, spec))
            name = headline(metrics)
            segment = int((frame[spec.categorical[0]] != held[spec.categorical[0]]).sum())
            table.add_row(
                f"{problem.phase}/{problem.prob}",
                f"{len(rows):,}",
                f"{segment:,}",
                f"{name} {metrics[name]:.4f} (holdout {result.metrics[name]:.4f})",
            )
    return _Changed(bodies, answers, table)


class _Traffic:
    """Batches sent in a loop from a thread, and the served version seen after each one."""

    def __init__(self, url: str, bodies: dict):
        import threading

        self.url = url
        self.bodies = bodies
        self.sent = 0
        self.failed = 0
        self.versions: dict[str, list[tuple[float, str]]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-traffic", daemon=True)

    def __enter__(self) -> _Traffic:
        import time

        self.started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        import httpx

        with httpx.Client(base_url=self.url, timeout=60) as client:
            while not self._stop.is_set():
                for problem, bodies in self.bodies.items():
                    for body in bodies:
                        if self._stop.is_set():
                            return
                        request = {k: body[k] for k in ("columns", "rows")} | {
                            "id": f"traffic-{self.sent}"
                        }
                        try:
                            answer = client.post(
                                f"/{problem.phase}/{problem.prob}/predict", json=request
                            )
                            ok = answer.status_code == 200
                        except httpx.HTTPError:
                            ok = False
                        self.sent += 1
                        self.failed += not ok
                        self._observe(client)

    def _observe(self, client) -> None:
        import time

        models = client.get("/health").json()["models"]
        for problem, model in models.items():
            seen = self.versions.setdefault(problem, [])
            if not seen or seen[-1][1] != model["version"]:
                seen.append((time.monotonic() - self.started, model["version"]))

    def wait_for(self, versions: dict[DemoProblem, str], timeout_s: float = 60.0) -> None:
        """Until the server answers with these versions (or `timeout_s`), traffic flowing."""
        import time

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not all(
            self.versions.get(f"{p.phase}/{p.prob}", [(0, "")])[-1][1] == v
            for p, v in versions.items()
        ):
            time.sleep(0.2)

    def table(self) -> Table:
        """What the traffic saw: requests, failures and the versions that answered."""
        table = Table(title=f"traffic during improve: {self.sent} requests, {self.failed} failed")
        table.add_column("problem")
        table.add_column("versions that answered, with the second each was first seen")
        for problem, seen in sorted(self.versions.items()):
            table.add_row(problem, " -> ".join(f"v{v} (at {t:.1f} s)" for t, v in seen))
        return table


@dataclass
class _Improved:
    table: Table
    promoted: dict[DemoProblem, str | None]


def _label_and_improve(home: Path, url: str, trained: dict, changed: dict, token: str) -> _Improved:
    """Send every replayed batch's true labels to the server, then improve every problem."""
    import httpx
    import orjson

    from mara.improve import improve_problem

    table = Table(title="mara improve: challenger vs champion, forward-chained on labelled traffic")
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
    promoted = {}
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, timeout=60, headers=headers) as client:
        for problem, (files, _) in trained.items():
            lines = files.requests.read_bytes().split(b"\n")
            items = [orjson.loads(line) for line in lines if line.strip()] + changed[problem]
            labels = [{"id": body["id"], "labels": body["labels"]} for body in items]
            answer = client.post(f"/{problem.phase}/{problem.prob}/labels", json=labels)
            answer.raise_for_status()
            report = answer.json()
            result = improve_problem(home, problem.phase, problem.prob)
            promoted[problem] = result.challenger if result.promoted else None
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
    return _Improved(table, promoted)


@dataclass
class _Rollback:
    table: Table
    restored: bool


def _rollback(home: Path, url: str, changed: _Changed, problem: DemoProblem) -> _Rollback:
    """Roll one problem back and show that its first version's answers are back."""
    import time

    import httpx

    from mara.registry import Registry

    body = {k: changed.bodies[problem][0][k] for k in ("id", "columns", "rows")}
    first = changed.answers[problem][0]
    route = f"/{problem.phase}/{problem.prob}/predict"
    with httpx.Client(base_url=url, timeout=60) as client:
        promoted = client.post(route, json=body).json()["predictions"]
        before, after = Registry(home).rollback(f"{problem.phase}_{problem.prob}")
        deadline = time.monotonic() + 60
        health = f"{problem.phase}/{problem.prob}"
        while time.monotonic() < deadline:
            if client.get("/health").json()["models"][health]["version"] == after:
                break
            time.sleep(0.2)
        rolled = client.post(route, json=body).json()["predictions"]
    table = Table(title=f"{problem.phase}/{problem.prob}: v{before} -> v{after} (rolled back)")
    for column in ("answered by", "first predictions", f"same as v{after}'s first answer"):
        table.add_column(column)
    for name, values in ((f"v{after}", first), (f"v{before}", promoted), ("now", rolled)):
        table.add_row(name, _first(values), "yes" if values == first else "no")
    return _Rollback(table, rolled == first and promoted != first)


def _first(values: list, n: int = 3) -> str:
    return ", ".join(f"{v:.4f}" if isinstance(v, float) else str(v) for v in values[:n]) + ", ..."


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
        path = Home(home).reports() / f"{problem.phase}-{problem.prob}.html"
        write_report(build_report(home, problem.phase, problem.prob, champion=champion), path)
        paths.append(path)
    return paths


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"
