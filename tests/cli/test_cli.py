"""The `mara` command as users run it: a real subprocess per call."""

import subprocess
import sys
from pathlib import Path

from command import mara

from mara.registry import Registry
from mara.spec import find_problems


def test_make_data_then_train_all(tmp_path: Path):
    for kind, prob in (("credit", "prob-1"), ("network-multiclass", "prob-2")):
        made = mara(
            tmp_path,
            "make-data",
            "--kind",
            kind,
            "--phase",
            "phase-1",
            "--prob",
            prob,
            "--rows",
            "1500",
        )
        assert made.returncode == 0, made.stderr
        assert "requests.jsonl" in made.stdout
    assert find_problems(tmp_path) == [("phase-1", "prob-1"), ("phase-1", "prob-2")]
    trained = mara(tmp_path, "train", "--all", "--no-compile", "--budget", "1")
    assert trained.returncode == 0, trained.stderr
    assert "phase-1_prob-1 v1: holdout auc" in trained.stdout
    assert "phase-1_prob-2 v1: holdout accuracy" in trained.stdout
    assert "mara train" in trained.stdout  # the summary table closes the run
    refused = mara(tmp_path, "train", "--all", "--budget", "0")
    assert refused.returncode == 2 and "budget" in refused.stderr
    one = ("--phase", "phase-1", "--prob", "prob-1", "--budget", "1")
    forced = mara(tmp_path, "train", *one, "--learner", "catboost")
    assert forced.returncode == 0, forced.stderr
    assert "phase-1_prob-1 v2: holdout auc" in forced.stdout
    assert Registry(tmp_path).load("phase-1_prob-1", "2").learner == "catboost"
    unknown = mara(tmp_path, "train", *one, "--learner", "xgboost")
    assert unknown.returncode == 2 and "--learner" in unknown.stderr


def test_usage_and_expected_failures_are_one_line(tmp_path: Path):
    neither = mara(tmp_path, "train", "--phase", "p")
    assert neither.returncode == 2
    assert "give either --phase and --prob, or --all" in neither.stderr
    unknown = mara(tmp_path, "make-data", "--kind", "iris", "--phase", "p", "--prob", "q")
    assert unknown.returncode == 1
    assert unknown.stderr.strip().splitlines() == [
        "mara: unknown kind 'iris'; choose one of fraud, credit, network, network-multiclass"
    ]
    missing = mara(tmp_path, "train", "--phase", "p", "--prob", "q")
    assert missing.returncode == 1
    assert missing.stderr.strip().endswith("features_config.json: file not found")
    assert "Traceback" not in missing.stderr


def test_help_loads_neither_the_server_nor_the_library():
    """Each command imports what it runs inside its body: `mara --help` loads click alone."""
    heavy = ("uvicorn", "starlette", "pandas", "numpy", "mlflow", "lightgbm", "httpx")
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys\nfrom click.testing import CliRunner\nfrom mara.cli import cli\n"
            "result = CliRunner().invoke(cli, ['--help'])\nassert result.exit_code == 0\n"
            f"print(' '.join(m for m in {heavy!r} if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert loaded.stdout.strip() == ""
    listed = mara(Path("."), "--help").stdout
    for command in ("make-data", "serve", "label", "improve", "autopilot", "estimate", "demo"):
        assert command in listed
