"""A softmax regression model on disk: safetensors with a checksum and its provenance."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from kedro.io import AbstractDataset, DatasetError

from fashion_mnist.schemas import ModelContractError, SoftmaxWeights, check_model
from fashion_mnist.serving.weights import (
    FORMAT,
    ModelFileError,
    read_header,
    read_weights,
    tensor_digest,
)
from fashion_mnist.tracking import run

from .staging import staged_file

if TYPE_CHECKING:  # torch and safetensors load when a model does, not with the catalog
    import torch


def _checked(model: Any, num_classes: int, source: str) -> SoftmaxWeights:
    """:func:`fashion_mnist.schemas.check_model`, failing as a dataset does."""
    try:
        return check_model(model, num_classes, source)
    except ModelContractError as exc:
        raise DatasetError(str(exc)) from None


class SoftmaxModelDataset(AbstractDataset[dict[str, Any], dict[str, Any]]):
    """A model as safetensors: tensors only (no code runs on load), checked on load.

    The file's metadata holds the SHA-256 of the tensors, so bytes changed after
    the file was written are detected, and the MLflow run that trained the
    model (its provenance, for runs that evaluate a model they did not train).
    The file is written to a temporary name and renamed: whole or not at all.

    Example catalog entry::

        scratch_model:
          type: fashion_mnist.datasets.SoftmaxModelDataset
          filepath: data/06_models/scratch/model.safetensors
    """

    def __init__(
        self,
        *,
        filepath: str,
        num_classes: int = 10,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Create the dataset.

        Args:
            filepath: Where the ``.safetensors`` file lives.
            num_classes: k, the number of outputs the model must have.
            metadata: Free-form metadata, ignored by the dataset.
        """
        self._filepath = Path(filepath)
        self._num_classes = num_classes
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "num_classes": self._num_classes}

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def header(self) -> dict[str, str]:
        """The file's metadata: format, sha256, mlflow_run_id."""
        try:
            return read_header(self._filepath)
        except ModelFileError as exc:
            raise DatasetError(str(exc)) from exc

    def load(self) -> SoftmaxWeights:
        try:
            return read_weights(self._filepath, self._num_classes)
        except (ModelFileError, ModelContractError) as exc:
            raise DatasetError(str(exc)) from None

    def save(self, data: SoftmaxWeights) -> None:
        _checked(data, self._num_classes, f"the model to save to {self._filepath}")
        model = {k: v.detach().cpu().contiguous() for k, v in data.items()}
        header = {
            "format": FORMAT,
            "sha256": tensor_digest(model),
            "mlflow_run_id": run.current_run_id() or "",
        }
        with staged_file(self._filepath) as staged:
            from safetensors.torch import save as save_safetensors

            staged.write_bytes(save_safetensors(model, metadata=header))
            # From the staged copy: a concurrent run may replace the target meanwhile.
            self._after_staging(staged, model)

    def _after_staging(self, staged: Path, model: dict[str, torch.Tensor]) -> None:
        """Called with the written file before it is renamed into place."""


def read_provenance(path: Path) -> dict[str, str]:
    """The ``mlflow_run_id`` and ``sha256`` stored in a model file, or ``{}``."""
    try:
        header = SoftmaxModelDataset(filepath=str(path)).header()
    except DatasetError:
        return {}
    return {k: header[k] for k in ("mlflow_run_id", "sha256") if k in header}


__all__ = ["SoftmaxModelDataset", "read_provenance", "tensor_digest"]
