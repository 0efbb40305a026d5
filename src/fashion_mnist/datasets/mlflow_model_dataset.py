"""Save a model locally and log it to the ``kedro run``'s MLflow run as a pyfunc model."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

import fashion_mnist
from fashion_mnist.schemas import SoftmaxWeights
from fashion_mnist.tracking import run

from .model_dataset import SoftmaxModelDataset

logger = logging.getLogger(__name__)

# What a served model needs besides its own code (which travels with it).
REQUIREMENTS = ("torch", "safetensors", "pandas", "numpy")


def _input_example(features: int) -> np.ndarray:
    """Two flattened uint8 images (a dark one and a ramp), as a user would send them."""
    return np.stack([np.zeros(features), np.linspace(0, 255, features)]).astype(
        np.uint8
    )


def _signature(num_classes: int):
    """Outputs only: the input contract is checked by the model itself, so that
    MLflow does not cast a request (floats in 0–1 to 0) before the model sees it."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    return ModelSignature(
        outputs=Schema(
            [ColSpec("long", "class_index")]
            + [ColSpec("float", f"proba_{k}") for k in range(num_classes)]
        )
    )


class MlflowSoftmaxModelDataset(SoftmaxModelDataset):
    """A :class:`SoftmaxModelDataset` that is also logged as an MLflow model.

    On save, inside a ``kedro run``, the model is logged from the private copy
    written before it is renamed to ``filepath`` (a concurrent run cannot swap
    it), by run id (so a save in a worker thread logs to the same run), as
    models-from-code: ``fashion_mnist/serving/pyfunc_model.py`` builds a
    :class:`fashion_mnist.serving.model.SoftmaxRegressionModel` and the weights are
    a safetensors artifact, so the logged model holds no pickle. Loading reads
    the local file.

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

    def _after_staging(self, staged: Path, model: SoftmaxWeights) -> None:
        run_id = run.current_run_id()
        if run_id is None:
            return
        import mlflow.pyfunc
        import torch
        from mlflow.models import Model

        from fashion_mnist.serving.model import INPUT_CONTRACT

        package = Path(fashion_mnist.__file__).parent
        # MLflow checks the requirements against this environment; its map of
        # installed distributions costs about 0.65 s, once per process.
        info = Model.log(
            artifact_path=None,
            name=self._name,
            flavor=mlflow.pyfunc,
            run_id=run_id,
            python_model=str(package / "serving" / "pyfunc_model.py"),
            artifacts={"weights": str(staged)},
            signature=_signature(model["weight"].shape[0]),
            input_example=_input_example(model["weight"].shape[1]),
            # The package's source travels with the model: it loads where it is not installed.
            code_paths=[str(package)],
            pip_requirements=[
                f"torch=={torch.__version__.split('+')[0]}",
                *REQUIREMENTS[1:],
            ],
            metadata={"input": INPUT_CONTRACT},
        )
        logger.info("Logged MLflow model %r as %s", self._name, info.model_uri)
