from pathlib import Path

from mara.home import LAYOUT, Home, Problem, layout_text


def test_problem_names_and_paths():
    problem = Problem("phase-1", "prob-2")
    assert problem.name == "phase-1_prob-2"
    assert problem.path == str(problem) == "phase-1/prob-2"


def test_every_path_of_a_home_is_in_the_drawn_layout(tmp_path: Path):
    home, problem = Home(tmp_path), Problem("p", "q")
    built = {
        "data/raw_data/<problem>/features_config.json": home.raw(problem) / "features_config.json",
        "data/raw_data/<problem>/raw_train.parquet": home.raw(problem) / "raw_train.parquet",
        "data/requests/<problem>/requests.jsonl": home.requests(problem) / "requests.jsonl",
        "data/captured_data/<problem>/*.jsonl": home.captured(problem) / "*.jsonl",
        "data/captured_data/<problem>/.index/": home.captured(problem) / ".index",
        "data/captured_data/<problem>/shadow/": home.captured(problem) / "shadow",
        "data/labels/<problem>/labels-*.jsonl": home.labels(problem) / "labels-*.jsonl",
        "data/monitor/": home.monitor(),
        "data/autopilot/<problem>/audit.jsonl": home.audit(problem),
        "estimates/<problem>/v<version>.json": home.estimate(problem, "<version>"),
        "reports/": home.reports(),
        "logs/": home.logs(),
        ".cache/compiled/": home.compiled_cache(),
        ".cache/aliases-moved": home.aliases_moved(),
        ".prometheus/": home.prometheus(),
        ".workers/": home.workers(),
        "demo-tokens": home.demo_tokens(),
        "mlflow.db": home.mlflow_db(),
        "mlartifacts/<phase>_<prob>/": home.artifacts("<phase>_<prob>"),
    }
    drawn = [path for path, _ in LAYOUT]
    assert sorted(drawn) == sorted(built)
    for pattern, path in built.items():
        expected = pattern.replace("<problem>", problem.path).rstrip("/")
        assert path.relative_to(tmp_path).as_posix() == expected
    # Every place a home has is drawn: a new one needs its line in LAYOUT (and the docs).
    places = {name for name in vars(Home) if not name.startswith("_")} - {"raw_root"}
    assert places == {
        "raw", "requests", "captured", "labels", "monitor", "audit", "estimate", "reports",
        "logs", "compiled_cache", "aliases_moved", "prometheus", "demo_tokens", "mlflow_db",
        "artifacts", "workers",
    }  # fmt: skip
    assert all(line.split("#")[0].strip() in drawn for line in layout_text().splitlines())


def test_the_helpers_of_each_stage_use_the_home(tmp_path: Path):
    from mara.capture.writer import captured_dir
    from mara.labels.ledger import labels_dir
    from mara.spec import problem_dir

    home, problem = Home(tmp_path), Problem("p", "q")
    assert problem_dir(tmp_path, "p", "q") == home.raw(problem)
    assert captured_dir(tmp_path, "p", "q") == home.captured(problem)
    assert labels_dir(tmp_path, "p", "q") == home.labels(problem)
