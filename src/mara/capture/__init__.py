"""Traffic capture: every served batch kept on disk before its answer, and read back.

`writer` appends the records, `record` is their format, `index` the one reader of a
problem's captured batches, `shadow` the challenger's scores beside them.
"""

from mara.capture.index import CaptureIndex, CaptureIndexes
from mara.capture.record import BATCH_COLUMNS, batch_key, parse_line
from mara.capture.shadow import shadow_scores
from mara.capture.writer import CaptureWriter, captured_dir

__all__ = [
    "BATCH_COLUMNS",
    "CaptureIndex",
    "CaptureIndexes",
    "CaptureWriter",
    "batch_key",
    "captured_dir",
    "parse_line",
    "shadow_scores",
]
