"""The MLflow pyfunc flavour of a ModelBundle, so `models:/<name>@champion` loads it."""

from __future__ import annotations

import pickle
from typing import Any

import mlflow.pyfunc
import pandas as pd

from mara.model import ModelBundle

BUNDLE_ARTIFACT = "bundle"


class BundleModel(mlflow.pyfunc.PythonModel):
    """Wraps a pickled ModelBundle; also answers `mlflow.pyfunc` predict calls."""

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        with open(context.artifacts[BUNDLE_ARTIFACT], "rb") as file:
            self.bundle: ModelBundle = pickle.load(file)

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> list:
        return self.bundle.predict_frame(model_input)
