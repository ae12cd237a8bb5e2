"""Drift detection: a reference fitted with the model, a calibrated verdict on every batch."""

from mara.drift.detector import (
    DEFAULT_ALPHA,
    DEFAULT_BATCH_SIZES,
    MIN_BATCH_SIZE,
    DriftDetector,
    DriftReport,
)

__all__ = ["DEFAULT_ALPHA", "DEFAULT_BATCH_SIZES", "MIN_BATCH_SIZE", "DriftDetector", "DriftReport"]
