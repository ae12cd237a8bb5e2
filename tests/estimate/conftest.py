"""A home shared by the estimate tests: two problems trained for real, with traffic."""

from pathlib import Path

import pytest
from labelled_capture import BINARY, MULTI, capture
from problems import binary_frame, multiclass_frame, write_problem

from mara.train import TrainConfig, train_problem


@pytest.fixture(scope="package")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A binary and a multiclass problem, trained, each with three hours of traffic like the
    table's (labelled) and, in the binary one, a fourth hour far outside the table's range."""
    home = tmp_path_factory.mktemp("estimate")
    write_problem(
        home, *BINARY, binary_frame(5000, 0), ["amount", "age", "noise"], ["channel", "region"]
    )
    write_problem(home, *MULTI, multiclass_frame(5000, 1), ["x", "y"], ["proto"], target="kind")
    # A budget the search never reaches: the same models whatever the machine's load.
    # LightGBM alone: CatBoost given 60 s would run 1,000 rounds a fold, for nothing tested here.
    config = TrainConfig(budget=60, learners=("lightgbm",))
    train_problem(home, *BINARY, config=config)
    train_problem(home, *MULTI, config=config)
    for hour in range(3):
        capture(
            home,
            BINARY,
            binary_frame(1000, 10 + hour),
            f"same{hour}",
            3600.0 * (hour + 1),
        )
        capture(
            home,
            MULTI,
            multiclass_frame(1000, 20 + hour),
            f"same{hour}",
            3600.0 * (hour + 1),
            target="kind",
        )
    far = binary_frame(1000, 30)
    far["amount"] *= 1000
    far["age"] += 100
    capture(home, BINARY, far, "far", 3600.0 * 5)
    return home
