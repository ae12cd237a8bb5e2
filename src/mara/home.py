"""Home and Problem: where everything lives under a project home, drawn once.

Every path mara reads or writes under a home comes from `Home`; the docs' layout page is
generated from `LAYOUT`, so the two cannot disagree.

    home = Home(Path("."))
    problem = Problem("phase-1", "prob-1")
    home.captured(problem)      # data/captured_data/phase-1/prob-1
    problem.name                # phase-1_prob-1, the registered model's name
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["LAYOUT", "Home", "Problem", "layout_text"]


@dataclass(frozen=True, order=True)
class Problem:
    """One problem of the organizers' layout: a phase and a problem folder name."""

    phase: str
    prob: str

    @property
    def name(self) -> str:
        """The registered model's name: `<phase>_<prob>`."""
        return f"{self.phase}_{self.prob}"

    @property
    def path(self) -> str:
        """`<phase>/<prob>`: its folders under the home and its URL prefix."""
        return f"{self.phase}/{self.prob}"

    def __str__(self) -> str:
        return self.path


# (path under the home, what is kept there): the layout, in the order a newcomer meets it.
# `<problem>` stands for `<phase>/<prob>`; `Home` below builds each of these paths.
LAYOUT: tuple[tuple[str, str], ...] = (
    ("data/raw_data/<problem>/features_config.json", "the organizers' spec of the problem"),
    ("data/raw_data/<problem>/raw_train.parquet", "the organizers' training table"),
    ("data/requests/<problem>/requests.jsonl", "replayable held-out batches (make-data)"),
    ("data/captured_data/<problem>/*.jsonl", "every served batch, written before the answer"),
    ("data/captured_data/<problem>/.index/", "the capture reader's saved index of those files"),
    ("data/captured_data/<problem>/shadow/", "the challenger's shadow scores, by request id"),
    ("data/labels/<problem>/labels-*.jsonl", "the label ledger: one file per accepted set"),
    ("data/monitor/", "per-request summaries and per-minute profiles: the dashboard's data"),
    ("data/autopilot/<problem>/audit.jsonl", "every autopilot decision and its evidence"),
    ("estimates/<problem>/v<version>.json", "cached performance estimates, per version"),
    ("reports/", "monitoring reports written by the demo (mara report writes where told)"),
    ("logs/", "logs of servers started by mara (tests, benchmarks, the demo, Ray)"),
    (".cache/compiled/", "compiled forests, keyed by model content and machine; compiles.log"),
    (".cache/aliases-moved", "replaced at every alias move: servers re-read the aliases then"),
    (".prometheus/", "metrics shared by the workers of one server (removed at its start)"),
    (".workers/", "what each serving worker answers (versions, readiness), for /health"),
    ("demo-tokens", "the demo server's token file (readable by its owner only)"),
    ("mlflow.db", "the embedded MLflow store: runs, versions, aliases"),
    (
        "mlartifacts/<phase>_<prob>/",
        "the embedded store's artifacts (absolute paths: move a "
        "home by re-training, not by copying)",
    ),
)


def layout_text() -> str:
    """The layout as an aligned text block, for the docs."""
    width = max(len(path) for path, _ in LAYOUT) + 2
    return "\n".join(f"{path:<{width}}# {what}" for path, what in LAYOUT)


@dataclass(frozen=True)
class Home:
    """A project home: the folder holding data/, the MLflow store and mara's own files."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    def raw(self, problem: Problem) -> Path:
        """The organizers' folder of a problem: its spec and training table."""
        return self.root / "data" / "raw_data" / problem.phase / problem.prob

    def raw_root(self) -> Path:
        """Where every problem's organizers' folder lives."""
        return self.root / "data" / "raw_data"

    def requests(self, problem: Problem) -> Path:
        """A problem's held-out rows and replayable request bodies (make-data)."""
        return self.root / "data" / "requests" / problem.phase / problem.prob

    def captured(self, problem: Problem) -> Path:
        """A problem's captured traffic."""
        return self.root / "data" / "captured_data" / problem.phase / problem.prob

    def labels(self, problem: Problem) -> Path:
        """A problem's label ledger."""
        return self.root / "data" / "labels" / problem.phase / problem.prob

    def monitor(self) -> Path:
        """Every problem's request summaries and profiles."""
        return self.root / "data" / "monitor"

    def audit(self, problem: Problem) -> Path:
        """The autopilot's audit log of a problem."""
        return self.root / "data" / "autopilot" / problem.phase / problem.prob / "audit.jsonl"

    def estimate(self, problem: Problem, version: str) -> Path:
        """The cached performance estimate of one version."""
        return self.root / "estimates" / problem.phase / problem.prob / f"v{version}.json"

    def reports(self) -> Path:
        """Where the demo writes monitoring reports."""
        return self.root / "reports"

    def logs(self) -> Path:
        """Logs of the servers mara starts."""
        return self.root / "logs"

    def compiled_cache(self) -> Path:
        """Compiled forests, keyed by model content and machine."""
        return self.root / ".cache" / "compiled"

    def aliases_moved(self) -> Path:
        """The stamp every alias move replaces, which serving processes watch."""
        return self.root / ".cache" / "aliases-moved"

    def workers(self) -> Path:
        """A file per serving worker: its versions and readiness, read by /health."""
        return self.root / ".workers"

    def prometheus(self) -> Path:
        """Metrics files shared by the worker processes of one server."""
        return self.root / ".prometheus"

    def demo_tokens(self) -> Path:
        """The token file `mara demo` writes for its server."""
        return self.root / "demo-tokens"

    def mlflow_db(self) -> Path:
        """The embedded MLflow store."""
        return self.root / "mlflow.db"

    def artifacts(self, name: str) -> Path:
        """The embedded store's artifacts of one registered model."""
        return self.root / "mlartifacts" / name
