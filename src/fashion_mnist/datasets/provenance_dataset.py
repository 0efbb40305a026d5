"""Which MLflow run trained each model that a ``kedro run`` reports on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError

from fashion_mnist.params import MODELS
from fashion_mnist.tracking import run

from .model_dataset import read_provenance


class ModelProvenanceDataset(AbstractDataset[None, dict[str, dict[str, Any]]]):
    """Read-only: for each model, the MLflow run that trained it.

    A model this run trains is credited to this run. A model this run only
    loads (``kedro run --from-nodes …``) is credited to the run recorded in
    its file, so a partial run's comparison says where each model came from.

    Example catalog entry::

        model_provenance:
          type: fashion_mnist.datasets.ModelProvenanceDataset
          models_dir: data/06_models
          filename: model.safetensors
    """

    def __init__(
        self,
        *,
        models_dir: str,
        filename: str = "model.safetensors",
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Create the dataset.

        Args:
            models_dir: Folder holding one sub-folder per model.
            filename: The model file's name in each sub-folder.
            metadata: Free-form metadata, ignored by the dataset.
        """
        self._models_dir = Path(models_dir)
        self._filename = filename
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"models_dir": str(self._models_dir), "filename": self._filename}

    def load(self) -> dict[str, dict[str, Any]]:
        current = run.current_run_id() or ""
        sources = {}
        for model in MODELS:
            if run.produced_in_this_run(f"{model}.model"):
                sources[model] = {"run_id": current, "this_run": True}
            else:
                path = self._models_dir / model / self._filename
                sources[model] = {
                    "run_id": read_provenance(path).get("mlflow_run_id", ""),
                    "this_run": False,
                }
        return sources

    def save(self, data: Any) -> None:
        raise DatasetError(f"{type(self).__name__} is read-only")
