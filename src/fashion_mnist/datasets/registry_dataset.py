"""The MLflow model registry: register a run's models, keep the best as the champion."""

from __future__ import annotations

import logging
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError

from fashion_mnist.tracking import run

from .model_dataset import SoftmaxModelDataset

logger = logging.getLogger(__name__)

CHAMPION = "champion"


@contextmanager
def _registry_lock(tracking_uri: str):
    """Serialise champion updates of runs sharing an embedded store (one machine)."""
    if not tracking_uri.startswith("sqlite:///"):
        yield  # a server's store: see the README on concurrent registrations
        return
    from filelock import FileLock

    with FileLock(Path(tracking_uri[len("sqlite:///") :] + ".registry.lock")):
        yield


class ModelRegistryDataset(AbstractDataset[dict[str, dict[str, Any]], dict[str, Any]]):
    """Save-only: register this run's logged models and move the champion alias.

    Saving ``{model: {"test_acc": ...}}`` registers the run's logged model
    ``<model>_model`` as a new version of ``<prefix><model>``, tagged with the
    run, its test accuracy and the git commit. The alias (``champion``) moves
    to the new version only when its test accuracy beats the current
    champion's. Outside a ``kedro run`` nothing is registered.

    Example catalog entry::

        registered_models:
          type: fashion_mnist.datasets.ModelRegistryDataset
          prefix: fashion_mnist_
          alias: champion
    """

    def __init__(
        self,
        *,
        prefix: str = "fashion_mnist_",
        alias: str = CHAMPION,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Create the dataset.

        Args:
            prefix: Registered model names are ``<prefix><model>``.
            alias: The alias that marks the best version.
            metadata: Free-form metadata, ignored by the dataset.
        """
        self._prefix = prefix
        self._alias = alias
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"prefix": self._prefix, "alias": self._alias}

    def load(self) -> dict[str, Any]:
        """Each registered model's champion version and its test accuracy."""
        from mlflow import MlflowClient
        from mlflow.exceptions import MlflowException

        client = MlflowClient()
        found = {}
        for registered in client.search_registered_models(
            filter_string=f"name LIKE '{self._prefix}%'"
        ):
            try:
                version = client.get_model_version_by_alias(
                    registered.name, self._alias
                )
            except MlflowException:
                continue
            found[registered.name] = {
                "version": version.version,
                "test_acc": float(version.tags.get("test_acc", "nan")),
                "mlflow_run_id": version.run_id,
            }
        return found

    def save(self, data: dict[str, dict[str, Any]]) -> None:
        run_id = run.current_run_id()
        if run_id is None or not data:
            return
        client = run.client()
        mlflow_run = client.get_run(run_id)
        with _registry_lock(client.tracking_uri):
            for model, facts in data.items():
                self._register(client, mlflow_run, model, float(facts["test_acc"]))

    def _register(self, client, mlflow_run, model: str, test_acc: float) -> None:
        import mlflow
        from mlflow.exceptions import MlflowException

        logged = client.search_logged_models(
            experiment_ids=[mlflow_run.info.experiment_id],
            filter_string=f"source_run_id = '{mlflow_run.info.run_id}' AND name = '{model}_model'",
        )
        if not logged:
            raise DatasetError(
                f"Run {mlflow_run.info.run_id} logged no model '{model}_model' to register; "
                "run the training pipeline in the same kedro run."
            )
        name = f"{self._prefix}{model}"
        # MLflow's own registration: creates the registered model on first use
        # and links the version to the logged model and its run.
        version = mlflow.register_model(
            f"models:/{logged[0].model_id}",
            name,
            tags={
                "mlflow_run_id": mlflow_run.info.run_id,
                "test_acc": f"{test_acc:.6f}",
                "git_commit": mlflow_run.data.tags.get("git_commit", "unknown"),
            },
        )
        try:
            champion = client.get_model_version_by_alias(name, self._alias)
            best = float(champion.tags.get("test_acc", "-inf"))
        except MlflowException:
            champion, best = None, float("-inf")
        if test_acc > best:
            client.set_registered_model_alias(name, self._alias, version.version)
            logger.info(
                "Registered %s version %s (test acc %.4f): now the %s%s",
                name,
                version.version,
                test_acc,
                self._alias,
                f", ahead of version {champion.version} ({best:.4f})"
                if champion
                else "",
            )
        else:
            logger.info(
                "Registered %s version %s (test acc %.4f); the %s stays version %s (%.4f)",
                name,
                version.version,
                test_acc,
                self._alias,
                champion.version,
                best,
            )


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
        from mlflow.exceptions import MlflowException

        with tempfile.TemporaryDirectory() as folder:
            try:
                local = mlflow.artifacts.download_artifacts(
                    artifact_uri=f"{self._model_uri.rstrip('/')}/{self._weights}",
                    dst_path=folder,
                )
            except MlflowException as exc:
                raise DatasetError(
                    f"Cannot load the model {self._model_uri} from the tracking store "
                    f"{mlflow.get_tracking_uri()}: {exc.message}. Train one with "
                    "`kedro run` (a run whose gate passes registers its models), or "
                    "name another with --params inference.model_uri=models:/<name>/<version>."
                ) from None
            model = SoftmaxModelDataset(filepath=local).load()
        logger.info("Loaded %s", self._model_uri)
        return model

    def save(self, data: Any) -> None:
        raise DatasetError(f"{type(self).__name__} is read-only")
