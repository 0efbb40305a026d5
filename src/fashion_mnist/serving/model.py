"""The pyfunc model: raw pixels in, the class and its probabilities out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd

from fashion_mnist.schemas import NUM_CLASSES

from .contract import check_pixels
from .weights import read_weights


class SoftmaxRegressionModel(mlflow.pyfunc.PythonModel):
    """Predict classes and probabilities from raw pixel images.

    Input: a ``uint8`` tensor (n, 784), the logged signature, which MLflow
    enforces before :meth:`predict`; the scoring server
    (:mod:`fashion_mnist.serving.app`) reads every other request form into it
    through :mod:`fashion_mnist.serving.contract`. Output: a table with
    ``class_index`` (``int64``) and ``proba_0`` … ``proba_9`` (``float32``),
    built by :func:`fashion_mnist.softmax.probability_table`, the builder
    evaluation and inference use. The weights come from the ``weights``
    artifact, the same safetensors file the catalog saves under
    ``data/06_models/``; its checksum and contract are checked on load, and
    safetensors holds tensors only, so a tampered file runs no code.
    """

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        self.model = read_weights(Path(context.artifacts["weights"]), NUM_CLASSES)

    # An ndarray hint: MLflow infers no schema from it and leaves the input
    # to the logged signature, without asking for type hints on every load.
    def predict(
        self,
        context: mlflow.pyfunc.PythonModelContext,
        model_input: np.ndarray,
        params: dict[str, Any] | None = None,
    ) -> pd.DataFrame:
        from fashion_mnist.softmax import probability_table

        return probability_table(
            self.model, check_pixels(model_input), predicted_column="class_index"
        )
