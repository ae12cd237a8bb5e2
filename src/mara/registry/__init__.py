"""The model registry: the only package that talks to MLflow."""

from mara.registry.history import AliasMove, rollback_target
from mara.registry.store import (
    CHALLENGER,
    CHAMPION,
    ModelVersion,
    Registry,
    tracking_uri,
)

__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "AliasMove",
    "ModelVersion",
    "Registry",
    "rollback_target",
    "tracking_uri",
]
