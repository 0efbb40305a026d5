"""The pyfunc model: raw pixels in, the class and its probabilities out."""

from __future__ import annotations

import mlflow.pyfunc
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

from fashion_mnist.schemas import FEATURES, IMAGE_SHAPE

INPUT_CONTRACT = (
    "raw pixels: integers 0–255 of any integer type, as a batch of flattened "
    "images (n, 784) or of 28×28 images (n, 28, 28)"
)


class RequestContractError(MlflowException):
    """A request that breaks the input contract; the scoring server answers 400."""

    def __init__(self, message: str) -> None:
        super().__init__(message, error_code=INVALID_PARAMETER_VALUE)


def check_pixels(model_input) -> np.ndarray:
    """Check a request's images against the input contract and flatten them.

    Args:
        model_input: A NumPy array, a list or a table (one column per pixel).

    Returns:
        ``uint8`` array of shape (n, 784).

    Raises:
        RequestContractError: For floats (scaled 0–1 input is ambiguous, so it
            is refused rather than guessed at), values outside 0–255, or another
            shape; the message is one sentence and never echoes the input.
    """
    values = (
        model_input.to_numpy()
        if isinstance(model_input, pd.DataFrame)
        else np.asarray(model_input)
    )
    if values.dtype.kind not in "iu":
        kind = "floats" if values.dtype.kind == "f" else f"dtype {values.dtype}"
        span = (
            f" in {values.min():g}..{values.max():g}"
            if values.dtype.kind == "f" and values.size
            else ""
        )
        raise RequestContractError(
            f"Expected {INPUT_CONTRACT}; got {kind}{span}. Send the raw 0–255 "
            "pixel values, not scaled ones."
        )
    if values.size and (values.min() < 0 or values.max() > 255):
        raise RequestContractError(
            f"Expected {INPUT_CONTRACT}; got values in {values.min()}..{values.max()}."
        )
    if values.ndim == 3 and values.shape[1:] == IMAGE_SHAPE:
        values = values.reshape(len(values), FEATURES)
    if values.ndim != 2 or values.shape[1] != FEATURES:
        raise RequestContractError(
            f"Expected {INPUT_CONTRACT}; got shape {tuple(values.shape)}."
        )
    return values.astype(np.uint8)


class SoftmaxRegressionModel(mlflow.pyfunc.PythonModel):
    """Predict classes and probabilities from raw pixel images.

    Input: see :data:`INPUT_CONTRACT`, checked by :func:`check_pixels`. Output:
    a table with ``class_index`` (``int64``) and ``proba_0`` … ``proba_9``
    (``float32``), built by :func:`fashion_mnist.softmax.probability_table`,
    the builder evaluation and inference use. The weights come from the
    ``weights`` artifact, the same safetensors file the catalog saves under
    ``data/06_models/``; its checksum and contract are checked on load, and
    safetensors holds tensors only, so a tampered file runs no code.
    """

    # No type hints on these two methods: the contract is checked in predict.
    def load_context(self, context):
        from fashion_mnist.datasets.model_dataset import SoftmaxModelDataset

        self.model = SoftmaxModelDataset(filepath=context.artifacts["weights"]).load()

    def predict(self, context, model_input, params=None):
        from fashion_mnist.softmax import probability_table

        return probability_table(
            self.model, check_pixels(model_input), predicted_column="class_index"
        )
