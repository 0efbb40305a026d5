"""Save a model locally and log it to the ``kedro run``'s MLflow run as a pyfunc model."""

from __future__ import annotations

import logging
import shutil
import tempfile
from modulefinder import ModuleFinder
from pathlib import Path
from typing import Any

import numpy as np

import fashion_mnist
from fashion_mnist.schemas import SoftmaxWeights
from fashion_mnist.tracking import run

from .model_dataset import SoftmaxModelDataset

logger = logging.getLogger(__name__)

PACKAGE = Path(fashion_mnist.__file__).parent
MODEL_CODE = PACKAGE / "serving" / "pyfunc_model.py"
# What the model's code imports besides itself (pydantic and tqdm: its
# parameter models and training loop, loaded with the softmax package).
REQUIREMENTS = ("torch", "safetensors", "pandas", "numpy", "pydantic", "tqdm")


def model_code_files() -> list[Path]:
    """The package's modules that the model's code imports, found statically.

    The standard library's ``modulefinder`` follows every import statement of
    :data:`MODEL_CODE`, inside functions too, looking only in the package's
    own folder; these are the files a logged model ships under ``code/``.
    """
    finder = ModuleFinder(path=[str(PACKAGE.parent)])
    finder.run_script(str(MODEL_CODE))
    return sorted(
        Path(module.__file__).relative_to(PACKAGE.parent)
        for name, module in finder.modules.items()
        if name.split(".")[0] == PACKAGE.name and module.__file__
    )


def _input_example(features: int) -> np.ndarray:
    """Two flattened uint8 images (a dark one and a ramp), as a user would send them."""
    return np.stack([np.zeros(features), np.linspace(0, 255, features)]).astype(
        np.uint8
    )


def _signature(num_classes: int, features: int):
    """A ``uint8`` tensor (n, 784) in; the class and its probabilities out.

    MLflow enforces the input's dtype and shape on every ``predict``; the
    project's scoring server reads every other request form (28×28 images,
    tables named by column) into this one before MLflow sees it.
    """
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema, TensorSpec

    return ModelSignature(
        inputs=Schema([TensorSpec(np.dtype(np.uint8), (-1, features))]),
        outputs=Schema(
            [ColSpec("long", "class_index")]
            + [ColSpec("float", f"proba_{k}") for k in range(num_classes)]
        ),
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
        from mlflow.environment_variables import MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR
        from mlflow.models import Model

        from fashion_mnist.serving.contract import INPUT_CONTRACT

        # MLflow copies the weights into the model with a progress bar per file:
        # noise in a run log. A user's own setting wins.
        if not MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR.defined:
            MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR.set(False)
        classes, features = model["weight"].shape
        with tempfile.TemporaryDirectory(prefix="fashion-mnist-code-") as code:
            # Only the modules the model imports travel with it: it loads where
            # the package is not installed, and ships nothing else.
            for file in model_code_files():
                (Path(code) / file).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(PACKAGE.parent / file, Path(code) / file)
            # MLflow checks the requirements against this environment; its map of
            # installed distributions costs about 0.65 s, once per process.
            info = Model.log(
                artifact_path=None,
                name=self._name,
                flavor=mlflow.pyfunc,
                run_id=run_id,
                python_model=str(MODEL_CODE),
                artifacts={"weights": str(staged)},
                signature=_signature(classes, features),
                input_example=_input_example(features),
                code_paths=[str(Path(code) / PACKAGE.name)],
                pip_requirements=[
                    f"torch=={torch.__version__.split('+')[0]}",
                    *REQUIREMENTS[1:],
                ],
                metadata={"input": INPUT_CONTRACT},
            )
        logger.info("Logged MLflow model %r as %s", self._name, info.model_uri)
