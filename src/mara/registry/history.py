"""The alias history: every move of `champion` or `challenger`, and what a rollback returns to."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["AliasMove", "rollback_target"]

ROLLBACK = "rollback"


@dataclass(frozen=True)
class AliasMove:
    """One move of an alias: when, from which version to which, by what and why."""

    alias: str
    from_version: str | None
    to_version: str
    by: str
    reason: str
    at: float
    run_id: str = ""

    def line(self) -> str:
        """One line for the terminal."""
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.at))
        source = f"v{self.from_version}" if self.from_version else "(none)"
        target = f"v{self.to_version}"
        return f"{when}  {self.alias:<10} {source:>6} -> {target:<6} {self.by:<9} {self.reason}"


def rollback_target(moves: Sequence[AliasMove], current: str | None) -> str | None:
    """The champion before the current one, walking back over earlier rollbacks.

    Champion moves stack up; a rollback pops the top. So a second rollback goes one version
    further back instead of undoing the first, as `git revert` of a revert would.
    """
    stack: list[str] = []
    for move in moves:
        if move.alias != "champion":
            continue
        if move.by == ROLLBACK and stack:
            stack.pop()
            if not stack or stack[-1] != move.to_version:
                stack.append(move.to_version)
        else:
            stack.append(move.to_version)
    # The alias may have been moved outside mara: the newest recorded champion is then the
    # one to return to; otherwise the one below the current.
    while stack and stack[-1] == current:
        stack.pop()
    return stack[-1] if stack else None
