"""Save a model locally and log it to the ``kedro run``'s MLflow run as a pyfunc model."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

import fashion_mnist
from fashion_mnist import tracking

from .model_dataset import SoftmaxModelDataset

logger = logging.getLogger(__name__)


def _input_example(features: int) -> np.ndarray:
    """Two flattened uint8 images (a dark one and a ramp), as a user would send them."""
    return np.stack([np.zeros(features), np.linspace(0, 255, features)]).astype(
        np.uint8
    )


class MlflowSoftmaxModelDataset(SoftmaxModelDataset):
    """A :class:`SoftmaxModelDataset` that is also logged as an MLflow model.

    On save, inside a ``kedro run``, the model is logged from the private copy
    written before it is renamed to ``filepath`` (a concurrent run cannot swap
    it), by run id (so a save in a worker thread logs to the same run),
    as a :class:`fashion_mnist.serving.SoftmaxRegressionModel` with an input
    example and the signature inferred from it. Loading reads the local file.

    Example catalog entry::

        scratch_model:
          type: fashion_mnist.datasets.MlflowSoftmaxModelDataset
          filepath: data/06_models/scratch/model.safetensors
          name: scratch_model
    """

    def __init__(
        self,
        *,
        filepath: str,
        name: str,
        num_classes: int = 10,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Create the dataset.

        Args:
            filepath: Where the ``.safetensors`` file lives.
            name: The logged model's name in MLflow (e.g. ``scratch_model``).
            num_classes: k, the number of outputs the model must have.
            metadata: Free-form metadata, ignored by the dataset.
        """
        super().__init__(filepath=filepath, num_classes=num_classes, metadata=metadata)
        self._name = name

    def _describe(self) -> dict[str, Any]:
        return {**super()._describe(), "name": self._name}

    def _after_staging(self, staged: Path, model: dict[str, torch.Tensor]) -> None:
        run_id = tracking.current_run_id()
        if run_id is None:
            return
        import mlflow.pyfunc
        from mlflow.models import Model

        from fashion_mnist.serving import SoftmaxRegressionModel

        with warnings.catch_warnings():
            # class_index is never missing, so MLflow's integer-column hint does not apply.
            warnings.filterwarnings(
                "ignore", message="Hint: Inferred schema contains integer"
            )
            info = Model.log(
                artifact_path=None,
                name=self._name,
                flavor=mlflow.pyfunc,
                run_id=run_id,
                python_model=SoftmaxRegressionModel(),
                artifacts={"weights": str(staged)},
                input_example=_input_example(model["weight"].shape[1]),
                # The package's source travels with the model: it loads where it is not installed.
                code_paths=[str(Path(fashion_mnist.__file__).parent)],
                pip_requirements=[
                    f"torch=={torch.__version__.split('+')[0]}",
                    "safetensors",
                    "pandas",
                    "numpy",
                ],
            )
        logger.info("Logged MLflow model %r as %s", self._name, info.model_uri)
