"""The prediction service."""

from mara.serve.app import app_from_env, create_app

__all__ = ["app_from_env", "create_app"]
