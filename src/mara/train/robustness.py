"""Robustness to dirty traffic: one model scored on the same rows, clean and dirtied."""

from __future__ import annotations

import pandas as pd

from mara.data.dirty import dirty_rows, frame_rows
from mara.model import ModelBundle
from mara.train.metrics import score

__all__ = ["clean_and_dirty_scores"]


def clean_and_dirty_scores(
    bundle: ModelBundle, frame: pd.DataFrame, *, fraction: float, seed: int = 0
) -> dict[str, dict[str, float]]:
    """Metrics on `frame` as sent and with `fraction` of its cells dirtied.

    Both go through the serving path: JSON-native rows, then the bundle's Preprocessor.
    """
    spec = bundle.spec
    columns = [c for c in frame.columns if c != spec.target]
    labels = frame[spec.target].tolist()
    rows = frame_rows(frame, columns)
    dirtied = dirty_rows(rows, columns, spec, fraction=fraction, seed=seed)
    scores = {}
    for name, batch in (("clean", rows), ("dirty", dirtied)):
        by_name = dict(zip(columns, zip(*batch, strict=True), strict=True))
        matrix, _ = bundle.prepare(by_name, len(batch))
        scores[name] = score(bundle.predict_matrix(matrix), labels, bundle.classes)
    return scores
