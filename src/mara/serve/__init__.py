"""The prediction service."""

from __future__ import annotations

from typing import Any

__all__ = ["app_from_env", "create_app"]


def __getattr__(name: str) -> Any:
    # Lazy: the CLI reads the serving defaults from mara.serve.* without loading the models'
    # stack (MLflow, LightGBM), which takes seconds to import.
    if name in __all__:
        from mara.serve import app

        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
