"""The traffic weight chosen on the older labelled traffic: above 1 only where it earns it."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from problems import binary_frame, write_problem

from mara.improve.data import ImproveData
from mara.improve.weight import choose_traffic_weight
from mara.spec import load_spec
from mara.train import TrainConfig
from mara.train.data import load_training_table

NUMERIC, CATEGORICAL = ["amount", "age", "noise"], ["channel", "region"]
FAST = TrainConfig(budget=1.0)


@pytest.fixture(scope="module")
def table_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("weight")
    write_problem(home, "p", "q", binary_frame(4000, 0), NUMERIC, CATEGORICAL)
    return home


def traffic(frame: pd.DataFrame) -> pd.DataFrame:
    """Labelled traffic as the capture reader gives it: oldest first, with capture times."""
    return frame.assign(received_at=1000.0 + np.arange(len(frame)))


def choose(home: Path, older: pd.DataFrame):
    spec = load_spec(home, "p", "q")
    table = load_training_table(home, spec, holdout=0.2, seed=0)
    data = ImproveData(spec, table, older, older.iloc[:0], 1.0)
    return choose_traffic_weight(data, share=0.3, train=FAST, resamples=300, confidence=0.95)


def test_traffic_like_the_table_keeps_weight_1(table_home: Path):
    choice = choose(table_home, traffic(binary_frame(2000, 1)))
    assert choice.weight == 1.0, choice.reason
    assert set(choice.gains) == {3.0, 10.0}
    assert all(gain.low <= 0 for gain in choice.gains.values())


def test_a_rule_the_table_contradicts_is_weighed_up(table_home: Path):
    frame = binary_frame(2000, 2)
    # The web channel's outcome turned over: the table still says the opposite.
    web = frame["channel"] == "web"
    frame.loc[web, "label"] = 1 - frame.loc[web, "label"]
    choice = choose(table_home, traffic(frame))
    assert choice.weight > 1.0, choice.reason
    assert choice.gains[choice.weight].low > 0
    assert f"traffic weight {choice.weight:g}" in choice.reason
    assert choice.seconds > 0  # its three fits: what the choice adds to an improve run


def test_too_few_rows_to_choose_on_stay_at_weight_1(table_home: Path):
    choice = choose(table_home, traffic(binary_frame(200, 3)))  # 60 rows to score on
    assert choice.weight == 1.0 and not choice.gains
    assert "60 rows to choose on" in choice.reason
