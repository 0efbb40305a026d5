"""Save and load a ``dict`` of CPU tensors (a state dict) with ``torch.save``."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

import torch
from kedro.io import AbstractDataset, DatasetError


class TorchStateDictDataset(
    AbstractDataset[dict[str, torch.Tensor], dict[str, torch.Tensor]]
):
    """A state dict on disk, loaded with ``weights_only=True``: tensors, no code.

    Example catalog entry::

        scratch_model:
          type: fashion_mnist.datasets.TorchStateDictDataset
          filepath: data/06_models/scratch/model.pt
    """

    def __init__(
        self, *, filepath: str, metadata: dict[str, Any] | None = None
    ) -> None:
        """Create the dataset.

        Args:
            filepath: Where the ``.pt`` file lives.
            metadata: Free-form metadata, ignored by the dataset.
        """
        self._filepath = PurePosixPath(filepath)
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}

    def _exists(self) -> bool:
        return Path(self._filepath).is_file()

    def load(self) -> dict[str, torch.Tensor]:
        path = Path(self._filepath)
        if not path.is_file():
            raise DatasetError(f"No model at {path}; run the training pipeline first.")
        return torch.load(path, map_location="cpu", weights_only=True)

    def save(self, data: dict[str, torch.Tensor]) -> None:
        if not isinstance(data, dict) or not all(
            isinstance(v, torch.Tensor) for v in data.values()
        ):
            raise DatasetError(
                f"{self._filepath}: expected a dict of tensors, got {type(data).__name__}"
            )
        path = Path(self._filepath)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=".part"
        )
        os.close(fd)
        try:
            torch.save({k: v.detach().cpu() for k, v in data.items()}, tmp)
            os.replace(tmp, path)
        finally:
            Path(tmp).unlink(missing_ok=True)
