"""Captured ids as mara's one reader gives them, checking that nothing was damaged."""

from __future__ import annotations

from pathlib import Path

from mara.capture import CaptureIndex


def captured_ids(folder: Path) -> list:
    """The ids of every record under `folder` (`data/captured_data/<phase>/<prob>`).

    Only a file's last line may be torn (a crash's mark): the reader leaves such a line
    unread, and any damaged line elsewhere would be counted as skipped.
    """
    home, phase, prob = folder.parents[3], folder.parent.name, folder.name
    index = CaptureIndex(home, phase, prob).refresh()
    assert index.skipped == 0, f"{index.skipped} damaged line(s) in the middle of a file"
    return index.batches()["id"].tolist()
