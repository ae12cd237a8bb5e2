"""The synthetic problem generator: layout, determinism, label shape, replayable requests."""

from __future__ import annotations

import json
import math
from pathlib import Path

import lightgbm as lgb
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from mara.data import (
    DEFAULT_ROWS,
    KINDS,
    NETWORK_CLASSES,
    SynthError,
    generate,
    make_problem,
    requests_dir,
)
from mara.errors import MaraError
from mara.spec import CONFIG_NAME, TRAIN_NAME, load_spec, problem_dir


def _strict_json(line: str) -> dict:
    def refuse(token: str) -> None:
        raise ValueError(f"non-standard JSON token {token}")

    return json.loads(line, parse_constant=refuse)


def _read_requests(path: Path) -> list[dict]:
    return [_strict_json(line) for line in path.read_text().splitlines()]


def test_make_problem_writes_the_organizers_layout(tmp_path: Path) -> None:
    files = make_problem(tmp_path, "fraud", phase="phase-1", prob="prob-1", rows=1000, seed=3)

    raw = tmp_path / "data" / "raw_data" / "phase-1" / "prob-1"
    out = tmp_path / "data" / "requests" / "phase-1" / "prob-1"
    assert raw == problem_dir(tmp_path, "phase-1", "prob-1")
    assert files.config == raw / CONFIG_NAME
    assert files.train == raw / TRAIN_NAME
    assert files.heldout == out / "heldout.parquet"
    assert files.requests == out / "requests.jsonl"
    assert requests_dir(tmp_path, "phase-1", "prob-1") == out
    assert sorted(p.name for p in raw.iterdir()) == sorted([CONFIG_NAME, TRAIN_NAME])
    assert sorted(p.name for p in out.iterdir()) == ["heldout.parquet", "requests.jsonl"]

    config = json.loads(files.config.read_text())
    assert set(config) == {"numeric_columns", "category_columns", "target_column", "ml_type"}
    assert config["target_column"] == "label"
    assert config["ml_type"] == "classification"
    assert load_spec(tmp_path, "phase-1", "prob-1") == files.spec
    summary = files.summary()
    assert "phase-1_prob-1" in summary and str(files.requests) in summary


@pytest.mark.parametrize("kind", KINDS)
def test_tables_match_the_config(tmp_path: Path, kind: str) -> None:
    files = make_problem(tmp_path, kind, phase="p", prob="q", rows=700, seed=1, batch_rows=64)
    spec = load_spec(tmp_path, "p", "q")
    train, held = pd.read_parquet(files.train), pd.read_parquet(files.heldout)

    assert list(train.columns) == list(held.columns)
    assert set(train.columns) == {*spec.features, "label"}
    assert len(spec.categorical) >= 2
    assert all(c.startswith("feature") for c in spec.features)
    assert (files.train_rows, files.heldout_rows) == (len(train), len(held))
    assert len(train) + len(held) == 700
    assert len(held) == 140  # the default holdout_fraction of 0.2
    assert files.batches == math.ceil(len(held) / 64)
    for col in spec.numeric:
        assert pd.api.types.is_numeric_dtype(train[col]), col
    text_categories = [c for c in spec.categorical if pd.api.types.is_string_dtype(train[c])]
    int_categories = [c for c in spec.categorical if pd.api.types.is_integer_dtype(train[c])]
    assert len(text_categories) + len(int_categories) == len(spec.categorical)
    # credit keeps one integer-coded categorical, so pipelines meet numeric-looking categories
    assert len(int_categories) == (1 if kind == "credit" else 0)


def test_same_seed_gives_identical_files(tmp_path: Path) -> None:
    first = make_problem(tmp_path / "a", "network", phase="p", prob="q", rows=500, seed=7)
    second = make_problem(tmp_path / "b", "network", phase="p", prob="q", rows=500, seed=7)
    for name in ("config", "train", "heldout", "requests"):
        assert getattr(first, name).read_bytes() == getattr(second, name).read_bytes(), name


def test_different_seeds_give_different_data(tmp_path: Path) -> None:
    one, _ = generate("credit", rows=500, seed=1)
    two, _ = generate("credit", rows=500, seed=2)
    assert list(one.columns) == list(two.columns)
    assert not one.equals(two)
    a = make_problem(tmp_path / "a", "credit", phase="p", prob="q", rows=500, seed=1)
    b = make_problem(tmp_path / "b", "credit", phase="p", prob="q", rows=500, seed=2)
    assert a.requests.read_bytes() != b.requests.read_bytes()


@pytest.mark.parametrize(
    ("kind", "low", "high"),
    [("fraud", 0.03, 0.05), ("credit", 0.27, 0.33), ("network", 0.35, 0.50)],
)
def test_positive_rate_is_in_band(kind: str, low: float, high: float) -> None:
    frame, _ = generate(kind, rows=20_000, seed=11)
    assert set(frame["label"].unique()) == {0, 1}
    assert pd.api.types.is_integer_dtype(frame["label"])
    assert low <= frame["label"].mean() <= high


def test_multiclass_has_six_unbalanced_string_labels() -> None:
    frame, _ = generate("network-multiclass", rows=10_000, seed=5)
    shares = frame["label"].value_counts(normalize=True)
    assert set(shares.index) == set(NETWORK_CLASSES)
    assert len(NETWORK_CLASSES) == 6
    assert all(isinstance(v, str) for v in frame["label"].head(100))
    assert shares.index[0] == "normal"
    assert 0.4 < shares.iloc[0] < 0.7 and shares.iloc[-1] < 0.05


def test_fraud_has_missing_numeric_values_and_many_merchants() -> None:
    frame, spec = generate("fraud", rows=20_000, seed=2)
    missing = frame[list(spec.numeric)].isna().mean()
    assert 1 <= (missing > 0).sum() <= 2
    assert missing.max() < 0.1
    assert max(frame[c].nunique() for c in spec.categorical) >= 200


@pytest.mark.parametrize("kind", ["fraud", "network-multiclass"])
def test_requests_are_strict_json_bodies_of_the_heldout_rows(tmp_path: Path, kind: str) -> None:
    files = make_problem(tmp_path, kind, phase="p", prob="q", rows=2000, seed=4, batch_rows=150)
    held = pd.read_parquet(files.heldout)
    bodies = _read_requests(files.requests)

    assert len(bodies) == files.batches == math.ceil(400 / 150)
    assert [len(b["rows"]) for b in bodies] == [150, 150, 100]
    assert len({b["id"] for b in bodies}) == len(bodies)
    features = [c for c in held.columns if c != "label"]
    for body in bodies:
        assert set(body) == {"id", "columns", "rows", "labels"}
        assert body["columns"] == features
        assert len(body["labels"]) == len(body["rows"])
        assert all(len(row) == len(features) for row in body["rows"])

    rows = [row for b in bodies for row in b["rows"]]
    labels = [label for b in bodies for label in b["labels"]]
    assert labels == held["label"].tolist()
    # the rows are the held-out table, cell for cell, with missing numbers sent as null
    sent = pd.DataFrame(rows, columns=features)
    pd.testing.assert_frame_equal(sent, held[features], check_dtype=False)
    has_null = any(cell is None for row in rows for cell in row)
    assert has_null == bool(held[features].isna().any().any())
    if kind == "fraud":
        assert has_null


def test_credit_is_learnable_but_not_trivially(tmp_path: Path) -> None:
    files = make_problem(tmp_path, "credit", phase="p", prob="q", rows=6000, seed=0)
    spec = files.spec
    train, held = pd.read_parquet(files.train), pd.read_parquet(files.heldout)

    def features(frame: pd.DataFrame) -> pd.DataFrame:
        out = frame[list(spec.features)].copy()
        for col in spec.categorical:
            out[col] = pd.Categorical(out[col], categories=sorted(train[col].unique()))
        return out

    model = lgb.LGBMClassifier(n_estimators=150, learning_rate=0.05, verbose=-1, n_jobs=2)
    model.fit(features(train), train["label"])
    auc = roc_auc_score(held["label"], model.predict_proba(features(held))[:, 1])
    assert 0.72 <= auc <= 0.95


def test_default_rows_cover_every_kind() -> None:
    assert set(DEFAULT_ROWS) == set(KINDS)
    assert all(10_000 <= rows <= 50_000 for rows in DEFAULT_ROWS.values())


def test_unknown_kind_names_the_allowed_ones(tmp_path: Path) -> None:
    with pytest.raises(SynthError, match="unknown kind 'iris'.*fraud, credit, network"):
        generate("iris", rows=100, seed=0)
    with pytest.raises(ValueError, match="network-multiclass"):
        make_problem(tmp_path, "iris", phase="p", prob="q")
    assert issubclass(SynthError, MaraError)
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"rows": 5}, "rows must be"),
        ({"holdout_fraction": 1.0}, "holdout_fraction"),
        ({"batch_rows": 0}, "batch_rows"),
        ({"prob": "../up"}, "plain folder names"),
    ],
)
def test_unusable_options_are_refused(tmp_path: Path, options: dict, message: str) -> None:
    kwargs = {"phase": "p", "prob": "q", "rows": 100, **options}
    with pytest.raises(SynthError, match=message):
        make_problem(tmp_path, "credit", **kwargs)
