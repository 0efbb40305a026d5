"""Save a state dict locally and, inside an MLflow run, log it as a pyfunc model."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import torch

import fashion_mnist
from fashion_mnist.serving import SoftmaxRegressionModel

from .torch_dataset import TorchStateDictDataset

logger = logging.getLogger(__name__)


def _input_example(features: int) -> np.ndarray:
    """Two flattened uint8 images (a dark one and a ramp), as a user would send them."""
    return np.stack([np.zeros(features), np.linspace(0, 255, features)]).astype(
        np.uint8
    )


class MlflowSoftmaxModelDataset(TorchStateDictDataset):
    """A :class:`TorchStateDictDataset` that is also logged as an MLflow model.

    On save, the state dict is written to ``filepath``; when an MLflow run is
    active (kedro-mlflow starts one per ``kedro run``), it is then logged with
    ``mlflow.pyfunc.log_model`` as a
    :class:`fashion_mnist.serving.SoftmaxRegressionModel`, with an input
    example and the signature inferred from it. Loading reads the local file.

    Example catalog entry::

        scratch_model:
          type: fashion_mnist.datasets.MlflowSoftmaxModelDataset
          filepath: data/06_models/scratch/model.pt
          name: scratch
    """

    def __init__(
        self, *, filepath: str, name: str, metadata: dict[str, Any] | None = None
    ) -> None:
        """Create the dataset.

        Args:
            filepath: Where the ``.pt`` file lives.
            name: The logged model's name in MLflow (e.g. ``scratch``).
            metadata: Free-form metadata, ignored by the dataset.
        """
        super().__init__(filepath=filepath, metadata=metadata)
        self._name = name

    def _describe(self) -> dict[str, Any]:
        return {**super()._describe(), "name": self._name}

    def save(self, data: dict[str, torch.Tensor]) -> None:
        super().save(data)
        if mlflow.active_run() is None:
            return
        with warnings.catch_warnings():
            # class_index is never missing, so MLflow's integer-column hint does not apply.
            warnings.filterwarnings(
                "ignore", message="Hint: Inferred schema contains integer"
            )
            info = mlflow.pyfunc.log_model(
                name=self._name,
                python_model=SoftmaxRegressionModel(),
                artifacts={"state_dict": str(self._filepath)},
                input_example=_input_example(data["weight"].shape[1]),
                # The package's source travels with the model: it loads where it is not installed.
                code_paths=[str(Path(fashion_mnist.__file__).parent)],
                pip_requirements=[
                    f"torch=={torch.__version__.split('+')[0]}",
                    "pandas",
                    "numpy",
                ],
            )
        logger.info("Logged MLflow model %r as %s", self._name, info.model_uri)
