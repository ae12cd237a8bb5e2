"""Traffic capture: every served batch kept on disk before its answer, and read back."""

from mara.capture.reader import (
    CaptureIndex,
    CaptureIndexes,
    batch_key,
    shadow_scores,
)
from mara.capture.writer import CaptureWriter, captured_dir

__all__ = [
    "CaptureIndex",
    "CaptureIndexes",
    "CaptureWriter",
    "batch_key",
    "captured_dir",
    "shadow_scores",
]
