"""A problem's spec: the one reader of features_config.json."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from mara.errors import SpecError
from mara.home import Home, Problem

__all__ = [
    "CONFIG_NAME",
    "TRAIN_NAME",
    "ProblemSpec",
    "find_problems",
    "load_spec",
    "problem_dir",
]

CONFIG_NAME = "features_config.json"
TRAIN_NAME = "raw_train.parquet"


@dataclass(frozen=True)
class ProblemSpec:
    """What the organizers say about one problem: its columns and its target."""

    phase: str
    prob: str
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    target: str
    ml_type: str = "classification"

    @property
    def problem(self) -> Problem:
        """The problem this spec describes, as one value."""
        return Problem(self.phase, self.prob)

    @property
    def name(self) -> str:
        """The registered model's name, `<phase>_<prob>`."""
        return self.problem.name

    @property
    def features(self) -> tuple[str, ...]:
        """Every feature column, numeric first, in the config's order."""
        return self.numeric + self.categorical

    def to_config(self) -> dict:
        """The features_config.json body for this spec."""
        return {
            "numeric_columns": list(self.numeric),
            "category_columns": list(self.categorical),
            "target_column": self.target,
            "ml_type": self.ml_type,
        }


def problem_dir(home: Path, phase: str, prob: str) -> Path:
    """Where a problem's raw data lives under a project home."""
    return Home(home).raw(Problem(phase, prob))


def find_problems(home: Path) -> list[tuple[str, str]]:
    """(phase, prob) of every folder under data/raw_data/ that holds a features_config.json."""
    root = Home(home).raw_root()
    return sorted((p.parent.parent.name, p.parent.name) for p in root.glob(f"*/*/{CONFIG_NAME}"))


def _string_list(config: dict, key: str, path: Path) -> tuple[str, ...]:
    value = config.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SpecError(f"{path}: '{key}' must be a list of column names")
    return tuple(value)


def load_spec(home: Path, phase: str, prob: str) -> ProblemSpec:
    """Parse `data/raw_data/<phase>/<prob>/features_config.json` into a ProblemSpec."""
    path = problem_dir(home, phase, prob) / CONFIG_NAME
    try:
        config = json.loads(path.read_text())
    except FileNotFoundError:
        raise SpecError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SpecError(f"{path}: not readable JSON ({exc})") from exc
    if not isinstance(config, dict):
        raise SpecError(f"{path}: must hold a JSON object")
    numeric = _string_list(config, "numeric_columns", path)
    categorical = _string_list(config, "category_columns", path)
    target = config.get("target_column")
    if not isinstance(target, str) or not target:
        raise SpecError(f"{path}: 'target_column' is missing or not a column name")
    ml_type = config.get("ml_type", "classification")
    if ml_type != "classification":
        raise SpecError(f"{path}: 'ml_type' is {ml_type!r}; mara supports 'classification'")
    if not numeric and not categorical:
        raise SpecError(f"{path}: 'numeric_columns' and 'category_columns' are both empty")
    overlap = (set(numeric) & set(categorical)) | ({target} & set(numeric + categorical))
    if overlap:
        raise SpecError(f"{path}: column(s) {sorted(overlap)} listed twice")
    for key, cols in (("numeric_columns", numeric), ("category_columns", categorical)):
        if len(set(cols)) != len(cols):
            raise SpecError(f"{path}: '{key}' lists a column twice")
    return ProblemSpec(phase, prob, numeric, categorical, target, ml_type)
