"""mara: train, version, serve, watch and improve tabular classification models."""

import os

# LightGBM's OpenMP threads spin while they wait for each other. On two cores busy with
# other work, that made a two-thread fit 4 to 20 times slower than a one-thread fit
# (benchmarks/train); waiting passively costs nothing measurable on an idle machine. OpenMP
# reads this once, when LightGBM's library loads, which is after any `mara` import.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from mara.errors import MaraError, RequestError, SpecError  # noqa: E402
from mara.spec import ProblemSpec, load_spec  # noqa: E402

__version__ = "0.1.0"

__all__ = ["MaraError", "ProblemSpec", "RequestError", "SpecError", "__version__", "load_spec"]
