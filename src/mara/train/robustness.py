"""Robustness to dirty traffic: one model scored on the same rows, clean and dirtied."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from mara.data.dirty import dirty_rows, frame_rows
from mara.model import ModelBundle
from mara.spec import ProblemSpec
from mara.train.metrics import score

__all__ = ["clean_and_dirty_batches", "clean_and_dirty_scores"]


def clean_and_dirty_batches(
    spec: ProblemSpec, frame: pd.DataFrame, *, fraction: float, seed: int = 0
) -> dict[str, dict[str, Sequence[object]]]:
    """`frame`'s feature cells as a request sends them ("clean"), and with `fraction` of
    them dirtied by `mara.data.dirty` ("dirty"): JSON-native columns by name."""
    columns = [c for c in frame.columns if c != spec.target]
    rows = frame_rows(frame, columns)
    dirtied = dirty_rows(rows, columns, spec, fraction=fraction, seed=seed)
    return {
        name: dict(zip(columns, zip(*batch, strict=True), strict=True))
        for name, batch in (("clean", rows), ("dirty", dirtied))
    }


def clean_and_dirty_scores(
    bundle: ModelBundle, frame: pd.DataFrame, *, fraction: float, seed: int = 0
) -> dict[str, dict[str, float]]:
    """Metrics on `frame` as sent and with `fraction` of its cells dirtied.

    Both go through the serving path: JSON-native rows, then the bundle's Preprocessor.
    """
    labels = frame[bundle.spec.target].tolist()
    scores = {}
    batches = clean_and_dirty_batches(bundle.spec, frame, fraction=fraction, seed=seed)
    for name, by_name in batches.items():
        matrix, _ = bundle.prepare(by_name, len(frame))
        scores[name] = score(bundle.predict_matrix(matrix), labels, bundle.classes)
    return scores
