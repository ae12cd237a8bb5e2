"""Forward chaining: every labelled row scored by a model that never saw it or anything later.

Labelled traffic (oldest first) is cut into time-ordered blocks of whole requests. For each
block after the first, the recipe learns from the table plus every earlier block and
predicts that block. Every row but the first block's is then an out-of-sample prediction of
the challenger's recipe, made as it would have been made at the time: the evidence the gate
reads, instead of a recent set that wastes the older rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["ChainedPredictions", "forward_chain", "request_blocks"]


def request_blocks(traffic: pd.DataFrame, blocks: int) -> np.ndarray:
    """The block of each row: requests (`key`) in time order, cut into `blocks` parts of
    about equal rows; a request is never split. Fewer blocks when there are fewer requests."""
    if blocks < 2:
        raise ValueError(f"forward chaining needs at least 2 blocks, got {blocks}")
    if traffic.empty:
        return np.zeros(0, dtype=int)
    # Requests in the order of their first (earliest) row: the traffic comes oldest first.
    order = traffic.sort_values(["received_at"], kind="stable")
    codes, _ = pd.factorize(order["key"])
    sizes = np.bincount(codes)
    before = np.cumsum(sizes) - sizes  # rows of earlier requests
    of_request = np.minimum((before * blocks) // len(order), blocks - 1)
    block = pd.Series(of_request[codes], index=order.index).reindex(traffic.index)
    return block.to_numpy(dtype=int)


@dataclass(frozen=True)
class ChainedPredictions:
    """Out-of-sample predictions of the recipe on the rows it scored (positions in the
    traffic, in order), the block of each (one fit predicted each block), how many fits
    made them, and for each scored row how many traffic rows its fit learned from."""

    rows: np.ndarray
    predictions: list[Any]
    fits: int
    blocks: np.ndarray
    learned: np.ndarray


def forward_chain(
    traffic: pd.DataFrame,
    blocks: int,
    fit: Callable[[pd.DataFrame], Any],
    predict: Callable[[Any, pd.DataFrame], Any],
) -> ChainedPredictions:
    """Predict each block after the first with `fit(earlier traffic)`, through `predict`.

    `fit` is given the traffic rows of the earlier blocks (the caller adds the table);
    `predict(model, block)` returns one prediction per row of the block.
    """
    block = request_blocks(traffic, blocks)
    rows: list[np.ndarray] = []
    learned: list[np.ndarray] = []
    predictions: list[Any] = []
    fits = 0
    for number in np.unique(block)[1:]:
        earlier = traffic[block < number]
        scored = np.flatnonzero(block == number)
        model = fit(earlier)
        fits += 1
        predictions.extend(list(predict(model, traffic.iloc[scored])))
        rows.append(scored)
        learned.append(np.full(len(scored), len(earlier)))
    if not rows:
        empty = np.zeros(0, dtype=int)
        return ChainedPredictions(empty, predictions, fits, empty, empty)
    positions = np.concatenate(rows)
    return ChainedPredictions(
        positions, predictions, fits, block[positions], np.concatenate(learned)
    )
