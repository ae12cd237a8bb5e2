"""The model registry: the only package that talks to MLflow."""

from mara.registry.store import (
    CHAMPION,
    ModelVersion,
    Registry,
    tracking_uri,
)

__all__ = ["CHAMPION", "ModelVersion", "Registry", "tracking_uri"]
