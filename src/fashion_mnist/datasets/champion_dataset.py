"""The registry's current champions, with the test predictions their runs logged."""

from __future__ import annotations

import logging
import tempfile
from typing import Any

import pandas as pd
from kedro.io import AbstractDataset, DatasetError

from fashion_mnist.params import MODELS
from fashion_mnist.tracking import run

logger = logging.getLogger(__name__)


class ChampionsDataset(AbstractDataset[None, dict[str, dict[str, Any] | None]]):
    """Read-only: each model's champion version and its test predictions.

    The predictions are read back from the tracking store (the artifact
    ``predictions`` of the run that registered the version), never from this
    machine's ``data/``: every machine sharing a tracking server compares a
    new model with the same champion on the same evidence.

    Example catalog entry::

        registry_champions:
          type: fashion_mnist.datasets.ChampionsDataset
          prefix: fashion_mnist_
          alias: champion
          predictions: "{model}/test_predicted.parquet"
    """

    def __init__(
        self,
        *,
        prefix: str = "fashion_mnist_",
        alias: str = "champion",
        predictions: str = "{model}/test_predicted.parquet",
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Create the dataset.

        Args:
            prefix: Registered model names are ``<prefix><model>``.
            alias: The alias that marks the champion.
            predictions: The run artifact holding a model's test predictions
                (``label``, ``predicted``); ``{model}`` is the model's name.
            metadata: Free-form metadata, ignored by the dataset.
        """
        self._prefix = prefix
        self._alias = alias
        self._predictions = predictions
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"prefix": self._prefix, "alias": self._alias}

    def load(self) -> dict[str, dict[str, Any] | None]:
        from mlflow.exceptions import MlflowException

        client = run.client()
        champions: dict[str, dict[str, Any] | None] = {}
        for model in MODELS:
            try:
                version = client.get_model_version_by_alias(
                    f"{self._prefix}{model}", self._alias
                )
            except MlflowException:
                champions[model] = None
                continue
            champions[model] = {
                "version": str(version.version),
                "test_acc": float(version.tags.get("test_acc", "nan")),
                "run_id": version.run_id,
                "predictions": self._read_predictions(client, model, version),
            }
        return champions

    def _read_predictions(self, client, model: str, version) -> pd.DataFrame | None:
        from mlflow.exceptions import MlflowException

        path = self._predictions.format(model=model)
        with tempfile.TemporaryDirectory() as folder:
            try:
                local = client.download_artifacts(version.run_id, path, folder)
            except (MlflowException, OSError):
                logger.info(
                    "%s%s version %s has no test predictions (%s) to pair with",
                    self._prefix,
                    model,
                    version.version,
                    path,
                )
                return None
            return pd.read_parquet(local)

    def save(self, data: Any) -> None:
        raise DatasetError(f"{type(self).__name__} is read-only")
