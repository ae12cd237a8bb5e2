"""Training: from a problem's raw table to a registered, possibly promoted, model version."""

import os

# LightGBM's OpenMP threads spin while they wait for each other. On a machine whose cores
# are busy with other work, that spinning made a two-thread fit 4 to 20 times slower than a
# one-thread fit; waiting passively costs nothing measurable on an idle machine. OpenMP
# reads this once, when LightGBM's library loads, so it is set before the first import.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from mara.train.config import TrainConfig  # noqa: E402
from mara.train.trainer import TrainResult, train_problem  # noqa: E402

__all__ = ["TrainConfig", "TrainResult", "train_problem"]
