import json
from pathlib import Path

import pytest

from mara.errors import SpecError
from mara.home import Problem
from mara.spec import CONFIG_NAME, ProblemSpec, load_spec, problem_dir


def write_config(home: Path, body: object) -> Path:
    folder = problem_dir(home, "p", "q")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / CONFIG_NAME
    path.write_text(body if isinstance(body, str) else json.dumps(body))
    return path


def test_reads_the_organizers_config(tmp_path):
    write_config(
        tmp_path,
        {
            "numeric_columns": ["a", "b"],
            "category_columns": ["c"],
            "target_column": "label",
            "ml_type": "classification",
        },
    )
    spec = load_spec(tmp_path, "p", "q")
    assert spec == ProblemSpec("p", "q", ("a", "b"), ("c",), "label")
    assert spec.name == "p_q" and spec.problem == Problem("p", "q")
    assert spec.features == ("a", "b", "c")
    assert spec.to_config()["category_columns"] == ["c"]


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(SpecError, match="features_config.json: file not found"):
        load_spec(tmp_path, "p", "q")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{not json", "not readable JSON"),
        ([], "JSON object"),
        ({"numeric_columns": ["a"]}, "'target_column'"),
        ({"numeric_columns": "a", "target_column": "y"}, "'numeric_columns'"),
        (
            {"numeric_columns": ["a"], "category_columns": [1], "target_column": "y"},
            "'category_columns'",
        ),
        ({"numeric_columns": [], "category_columns": [], "target_column": "y"}, "both empty"),
        (
            {"numeric_columns": ["a"], "category_columns": ["a"], "target_column": "y"},
            "listed twice",
        ),
        ({"numeric_columns": ["a"], "target_column": "a"}, "listed twice"),
        ({"numeric_columns": ["a"], "target_column": "y", "ml_type": "regression"}, "ml_type"),
    ],
)
def test_malformed_config_names_file_and_key(tmp_path, body, message):
    path = write_config(tmp_path, body)
    with pytest.raises(SpecError, match=message) as info:
        load_spec(tmp_path, "p", "q")
    assert str(path) in str(info.value)
