"""The model file: safetensors whose metadata holds the SHA-256 of its tensors.

Kedro-free, so that a logged model needs only torch and safetensors to read its
weights; :class:`fashion_mnist.datasets.SoftmaxModelDataset` reads and writes
the same file through these functions.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from fashion_mnist.schemas import SoftmaxWeights, check_model

if TYPE_CHECKING:  # torch loads when a model does
    import torch

FORMAT = "fashion_mnist.softmax_regression/1"
RETRAIN = "Retrain it with: kedro run --pipelines training"


class ModelFileError(ValueError):
    """A model file that is missing, unreadable or changed after it was written."""


def tensor_digest(model: dict[str, torch.Tensor]) -> str:
    """SHA-256 over each tensor's name, dtype, shape and bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(model):
        tensor = model[name].detach().cpu().contiguous()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)};".encode())
        digest.update(tensor.numpy().tobytes())
    return digest.hexdigest()


def read_header(path: Path) -> dict[str, str]:
    """The file's metadata (format, sha256, mlflow_run_id) without its tensors.

    Raises:
        ModelFileError: When the file is not safetensors.
    """
    from safetensors import SafetensorError, safe_open

    try:
        # numpy: reading a header needs no torch (1.4 s to import).
        with safe_open(path, framework="numpy") as f:
            return dict(f.metadata() or {})
    except (OSError, SafetensorError) as exc:
        raise ModelFileError(f"{path} is unreadable ({exc}). {RETRAIN}") from exc


def read_weights(path: Path, num_classes: int) -> SoftmaxWeights:
    """Read a model file, verify its checksum and check the model contract.

    Args:
        path: The ``.safetensors`` file.
        num_classes: k, the number of outputs the model must have.

    Returns:
        ``weight`` (k, 784) and ``bias`` (k,), ``float32``.

    Raises:
        ModelFileError: When the file is missing, unreadable or its tensors do
            not match their stored SHA-256.
        fashion_mnist.schemas.ModelContractError: When the model breaks the contract.
    """
    if not path.is_file():
        raise ModelFileError(
            f"No model at {path}. Train it with: kedro run --pipelines training"
        )
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(path, framework="pt") as f:
            header = dict(f.metadata() or {})
            model = {name: f.get_tensor(name) for name in f.keys()}  # noqa: SIM118
    except (OSError, SafetensorError) as exc:
        raise ModelFileError(f"{path} is unreadable ({exc}). {RETRAIN}") from exc
    if header.get("sha256") != tensor_digest(model):
        raise ModelFileError(
            f"{path} was changed after it was written: its tensors do not match "
            f"the SHA-256 stored in the file. {RETRAIN}"
        )
    return check_model(model, num_classes, str(path))
