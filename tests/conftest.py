"""Shared fixtures: small problems trained for real into a temporary home."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings
from problems import binary_frame, multiclass_frame, write_problem

# CI replays the same examples every run, so a landing never hinges on a lucky draw; runs on
# a developer's machine keep exploring new ones.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(scope="session")
def trained_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with a binary and a multiclass problem, each trained and promoted once.

    Their champions are the learners LightGBM alone is not: a blend (binary) and CatBoost
    (multiclass), so everything served from this home runs with each. LightGBM champions
    are trained by the improve and autopilot end-to-end tests and tests/test_compiled.py.
    """
    from mara.train import TrainConfig, train_problem

    home = tmp_path_factory.mktemp("home")
    write_problem(
        home,
        "phase-1",
        "prob-1",
        binary_frame(6000, 0),
        ["amount", "age", "noise"],
        ["channel", "region"],
    )
    write_problem(
        home, "phase-1", "prob-2", multiclass_frame(6000, 1), ["x", "y"], ["proto"], target="kind"
    )
    train_problem(home, "phase-1", "prob-1", config=TrainConfig(learners=("blend",)))
    train_problem(home, "phase-1", "prob-2", config=TrainConfig(learners=("catboost",)))
    return home


@pytest.fixture(scope="session")
def lightgbm_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same two problems with LightGBM champions (trained_home's are not): for what only
    a LightGBM forest has, its compiled twin."""
    from mara.train import TrainConfig, train_problem

    home = tmp_path_factory.mktemp("lightgbm")
    columns = (["amount", "age", "noise"], ["channel", "region"])
    write_problem(home, "phase-1", "prob-1", binary_frame(3000, 0), *columns)
    write_problem(
        home, "phase-1", "prob-2", multiclass_frame(3000, 1), ["x", "y"], ["proto"], target="kind"
    )
    config = TrainConfig(budget=2.0, learners=("lightgbm",))
    for prob in ("prob-1", "prob-2"):
        train_problem(home, "phase-1", prob, config=config)
    return home
