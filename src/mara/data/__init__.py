"""Seeded synthetic problems in the organizers' layout, for tests, demos and load benches.

Typical use: ``make_problem(home, "fraud", phase="phase-1", prob="prob-1", seed=0)``.
"""

from mara.data.generators import DEFAULT_ROWS, KINDS, NETWORK_CLASSES, SynthError, generate
from mara.data.layout import HELDOUT_NAME, REQUESTS_NAME, ProblemFiles, make_problem, requests_dir

__all__ = [
    "DEFAULT_ROWS",
    "HELDOUT_NAME",
    "KINDS",
    "NETWORK_CLASSES",
    "REQUESTS_NAME",
    "ProblemFiles",
    "SynthError",
    "generate",
    "make_problem",
    "requests_dir",
]
