"""Shared fixtures: small problems trained for real into a temporary home."""

from __future__ import annotations

from pathlib import Path

import pytest
from problems import binary_frame, multiclass_frame, write_problem


@pytest.fixture(scope="session")
def trained_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with a binary and a multiclass problem, each trained and promoted once."""
    from mara.train import train_problem

    home = tmp_path_factory.mktemp("home")
    write_problem(home, "phase-1", "prob-1", binary_frame(6000, 0),
                  ["amount", "age", "noise"], ["channel", "region"])
    write_problem(home, "phase-1", "prob-2", multiclass_frame(6000, 1), ["x", "y"], ["proto"],
                  target="kind")
    train_problem(home, "phase-1", "prob-1")
    train_problem(home, "phase-1", "prob-2")
    return home
