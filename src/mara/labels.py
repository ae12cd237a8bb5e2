"""Which label a binary model's probability is about."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["positive_class"]


def positive_class(classes: Sequence[Any]) -> Any:
    """The label whose probability a binary model reports: 1, else the greater label."""
    return 1 if 1 in classes else sorted(classes)[-1]
