"""Holdout metrics: AUC for binary problems, accuracy and macro-F1 for multiclass."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score

from mara.labels import positive_class

__all__ = ["headline", "score"]


def score(
    predictions: Sequence[Any], labels: Sequence[Any], classes: list[Any]
) -> dict[str, float]:
    """Metrics of one model's predictions against the true labels."""
    if len(classes) == 2:
        positive = positive_class(classes)
        truth = np.asarray([label == positive for label in labels], dtype=int)
        proba = np.asarray(predictions, dtype=float)
        return {
            "auc": float(roc_auc_score(truth, proba)),
            "logloss": float(log_loss(truth, np.clip(proba, 1e-15, 1 - 1e-15), labels=[0, 1])),
        }
    truth = [str(v) for v in labels]
    predicted = [str(v) for v in predictions]
    return {
        "accuracy": float(accuracy_score(truth, predicted)),
        "macro_f1": float(f1_score(truth, predicted, average="macro")),
    }


def headline(metrics: dict[str, float]) -> str:
    """The metric models are judged by: AUC for binary problems, accuracy for multiclass."""
    return "auc" if "auc" in metrics else "accuracy"
