"""The errors mara raises on purpose.

MaraError
├── SpecError          features_config.json is missing or malformed
├── DataError          a training table cannot be used as given
├── RegistryError      the MLflow store cannot give what was asked
├── NotFittedError     an estimator was used before fit()
└── RequestError       a batch that cannot be served as sent (4xx)
    ├── ModelNotFound      no model for that phase/prob (404)
    └── BatchTooLarge      more rows than the server accepts (413)
"""

from __future__ import annotations

__all__ = [
    "BatchTooLarge",
    "DataError",
    "MaraError",
    "ModelNotFound",
    "ModelUnavailable",
    "NotFittedError",
    "RegistryError",
    "RequestError",
    "SpecError",
]


class MaraError(Exception):
    """Base of every error mara raises on purpose."""


class SpecError(MaraError):
    """features_config.json is missing or malformed."""


class DataError(MaraError):
    """A training table cannot be used as given."""


class RegistryError(MaraError):
    """The MLflow store cannot give what was asked."""


class NotFittedError(MaraError, RuntimeError):
    """An estimator was used before fit()."""


class RequestError(MaraError):
    """A batch that cannot be served as sent."""

    status_code = 400


class ModelNotFound(RequestError):
    """No model is served for that phase and problem."""

    status_code = 404


class BatchTooLarge(RequestError):
    """More rows than the server accepts in one request."""

    status_code = 413


class ModelUnavailable(RequestError):
    """The problem has a champion, but it could not be loaded."""

    status_code = 503
