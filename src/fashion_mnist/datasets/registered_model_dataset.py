"""Read a registered model's weights from the tracking store, without running its code."""

from __future__ import annotations

import logging
import tempfile
from typing import Any

from kedro.io import AbstractDataset, DatasetError

from .model_dataset import SoftmaxModelDataset

logger = logging.getLogger(__name__)


class RegisteredModelDataset(AbstractDataset[None, dict[str, Any]]):
    """Read-only: a registered model's weights, without running any of its code.

    ``model_uri`` is any MLflow model URI (``models:/fashion_mnist_scratch@champion``,
    ``models:/fashion_mnist_concise/3``, ``models:/m-…``). Only the safetensors
    weights are downloaded and checked (checksum, shapes); the model's code is
    never imported.

    Example catalog entry::

        inference_model:
          type: fashion_mnist.datasets.RegisteredModelDataset
          model_uri: models:/fashion_mnist_scratch@champion
    """

    def __init__(
        self,
        *,
        model_uri: str,
        weights: str = "artifacts/model.safetensors",
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Create the dataset.

        Args:
            model_uri: The model to load.
            weights: The weights file inside the logged model.
            metadata: Free-form metadata, ignored by the dataset.
        """
        self._model_uri = model_uri
        self._weights = weights
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"model_uri": self._model_uri}

    def load(self) -> dict[str, Any]:
        import mlflow
        from mlflow import MlflowClient
        from mlflow.exceptions import MlflowException

        uri, resolved = self._model_uri.rstrip("/"), ""
        with tempfile.TemporaryDirectory() as folder:
            try:
                # The alias resolved first: the version logged is the one loaded,
                # even when the alias moves in between.
                name, at, alias = uri.removeprefix("models:/").partition("@")
                if uri.startswith("models:/") and at:
                    version = MlflowClient().get_model_version_by_alias(name, alias)
                    uri = f"models:/{name}/{version.version}"
                    resolved = (
                        f" = {name} version {version.version} (run {version.run_id})"
                    )
                local = mlflow.artifacts.download_artifacts(
                    artifact_uri=f"{uri}/{self._weights}", dst_path=folder
                )
            except MlflowException as exc:
                raise DatasetError(
                    f"Cannot load the model {self._model_uri} from the tracking store "
                    f"{mlflow.get_tracking_uri()}: {exc.message}. Train one with "
                    "`kedro run` (a run whose gate passes registers its models), or "
                    "name another with --params inference.model_uri=models:/<name>/<version>."
                ) from None
            model = SoftmaxModelDataset(filepath=local).load()
        logger.info("Loaded %s%s", self._model_uri, resolved)
        return model

    def save(self, data: Any) -> None:
        raise DatasetError(f"{type(self).__name__} is read-only")
