"""Forward chaining: blocks of whole requests in time order, each scored by earlier blocks."""

import numpy as np
import pandas as pd
import pytest

from mara.improve.chain import forward_chain, request_blocks


def traffic(sizes: list[int]) -> pd.DataFrame:
    """Labelled traffic as the reader gives it: requests of `sizes` rows, oldest first."""
    parts = [
        pd.DataFrame({"key": f"r{n}", "row": np.arange(size), "received_at": 100.0 + n, "x": n})
        for n, size in enumerate(sizes)
    ]
    return pd.concat(parts, ignore_index=True)


def test_blocks_are_time_ordered_and_never_split_a_request():
    frame = traffic([50, 10, 200, 30, 30, 30, 90, 60, 5, 100])
    block = request_blocks(frame, 4)
    assert (np.diff(block) >= 0).all()  # later rows never fall in an earlier block
    per_request = pd.Series(block).groupby(frame["key"]).nunique()
    assert (per_request == 1).all()
    assert set(block) == {0, 1, 2, 3}


def test_few_requests_make_fewer_blocks_and_two_are_the_least():
    assert set(request_blocks(traffic([100, 100]), 5)) == {0, 2}
    with pytest.raises(ValueError, match="at least 2 blocks"):
        request_blocks(traffic([10]), 1)


def test_no_row_is_scored_by_a_model_that_saw_it_or_anything_later():
    frame = traffic([40, 25, 60, 10, 80, 35, 50, 20, 45, 30]).sample(frac=1.0, random_state=0)
    frame = frame.sort_values(["received_at", "key", "row"], kind="stable").reset_index(drop=True)
    seen: list[pd.DataFrame] = []

    def fit(earlier: pd.DataFrame) -> int:
        seen.append(earlier)
        return len(seen) - 1

    def predict(model: int, block: pd.DataFrame) -> list[tuple[int, str, int]]:
        learned = seen[model]
        # Nothing the model learned from is this block's, or later than any row of it.
        assert not set(learned["key"]) & set(block["key"])
        assert learned["received_at"].max() < block["received_at"].min()
        return [(model, k, r) for k, r in zip(block["key"], block["row"], strict=True)]

    chained = forward_chain(frame, 4, fit, predict)
    assert chained.fits == 3 == len(seen)
    # Each scored row once, its prediction lined up with its position in the traffic.
    assert len(set(chained.rows)) == len(chained.rows)
    scored = frame.iloc[chained.rows]
    assert [(k, r) for _, k, r in chained.predictions] == list(
        zip(scored["key"], scored["row"], strict=True)
    )
    # The first block is only learned from; every later row is scored.
    first = request_blocks(frame, 4) == 0
    assert set(chained.rows) == set(np.flatnonzero(~first))
    # Each model learned from everything before its block: the chain only grows.
    assert [len(s) for s in seen] == sorted(len(s) for s in seen)
    # Each scored row carries the count of traffic rows its fit learned from.
    assert chained.learned.tolist() == [len(seen[m]) for m, _, _ in chained.predictions]
