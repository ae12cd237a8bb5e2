"""mara: train, version, serve, watch and improve tabular classification models."""

from mara.errors import MaraError, RequestError, SpecError
from mara.spec import ProblemSpec, load_spec

__version__ = "0.1.0"

__all__ = ["MaraError", "ProblemSpec", "RequestError", "SpecError", "__version__", "load_spec"]
