"""The MLflow pyfunc model that serves either trained model from its state dict."""

from __future__ import annotations

import warnings

import mlflow.pyfunc
import numpy as np
import pandas as pd
import torch

from fashion_mnist.softmax import linear_logits, softmax, to_features

# MLflow warns at class creation that `predict` lacks type hints; hints would
# make MLflow replace the uint8 tensor signature that the input example gives.
warnings.filterwarnings(
    "ignore", message=r".*Add type hints to the `predict` method", category=UserWarning
)


class SoftmaxRegressionModel(mlflow.pyfunc.PythonModel):
    """Predict classes and probabilities from flattened ``uint8`` images.

    Input: shape (n, 784), ``uint8`` pixels 0–255 (a NumPy array, or a table
    with 784 columns). Output: a table with ``class_index`` (``int64``) and
    ``proba_0`` … ``proba_9``. The weights come from the ``weights``
    artifact, the same safetensors file the catalog saves under
    ``data/06_models/``; its checksum is verified on load.
    """

    # No type hints on these two methods: MLflow would read them as a schema.
    # The signature comes from the input example given when the model is logged.
    def load_context(self, context):
        from fashion_mnist.datasets.model_dataset import SoftmaxModelDataset

        self.model = SoftmaxModelDataset(filepath=context.artifacts["weights"]).load()

    def predict(self, context, model_input, params=None):
        values = np.asarray(model_input)
        if values.dtype.kind not in "iu" or (
            values.size and (values.min() < 0 or values.max() > 255)
        ):
            raise ValueError(
                "expected raw pixels: integers in 0..255 (uint8), got dtype "
                f"{values.dtype}"
                + (f" in {values.min()}..{values.max()}" if values.size else "")
            )
        pixels = values.astype(np.uint8)
        features = self.model["weight"].shape[1]
        if pixels.ndim != 2 or pixels.shape[1] != features:
            raise ValueError(
                f"expected flattened images of shape (n, {features}), got {pixels.shape}"
            )
        with torch.no_grad():
            probs = softmax(linear_logits(self.model, to_features(pixels))).numpy()
        table = pd.DataFrame(
            probs, columns=[f"proba_{k}" for k in range(probs.shape[1])]
        )
        table.insert(0, "class_index", probs.argmax(axis=1).astype(np.int64))
        return table
