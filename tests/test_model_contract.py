"""The model contract: which model files the catalog refuses to load, and how it says so.

Models go through the project's own catalog entry (``{model}.model``) from
conf/base/catalog.yml, their files written under tmp_path with a true
checksum, as a run writes them: only their content can be wrong.
"""

from pathlib import Path

import pytest
import torch
from kedro.io import DataCatalog, DatasetError
from safetensors.torch import save_file

from fashion_mnist.datasets.model_dataset import FORMAT, tensor_digest
from fashion_mnist.schemas import RETRAIN
from tests.support.conf import project_entry

SCRATCH = "scratch.model"


@pytest.fixture
def models(tmp_path) -> DataCatalog:
    """The project's model entry (``{model}.model``), its files under tmp_path."""
    return project_entry("{model}.model", tmp_path / "{model}" / "model.safetensors")


def _write_model(path: Path, model: dict[str, torch.Tensor]) -> None:
    """Write ``model`` with a true checksum, as a run would: only its content can be wrong."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = {"format": FORMAT, "sha256": tensor_digest(model), "mlflow_run_id": ""}
    save_file(model, str(path), metadata=header)


def _loading_refused(models: DataCatalog) -> str:
    with pytest.raises(DatasetError) as raised:
        models.load(SCRATCH)
    return str(raised.value)


def test_a_valid_model_file_loads_back_unchanged(models, tmp_path):
    model = {"weight": torch.randn(10, 784), "bias": torch.randn(10)}
    _write_model(tmp_path / "scratch" / "model.safetensors", model)

    loaded = models.load(SCRATCH)

    assert set(loaded) == {"weight", "bias"}
    assert all(torch.equal(loaded[key], model[key]) for key in model)


@pytest.mark.parametrize(
    ("model", "problem"),
    [
        ({"weight": torch.zeros(10, 783), "bias": torch.zeros(10)}, "weight has shape (10, 783), expected (10, 784)"),
        ({"weight": torch.zeros(10, 784, dtype=torch.float64), "bias": torch.zeros(10, dtype=torch.float64)}, "weight has dtype torch.float64, expected torch.float32; bias has dtype torch.float64, expected torch.float32"),
        ({"weight": torch.zeros(10, 784)}, "keys ['weight'], expected ['bias', 'weight']"),
        ({"weight": torch.full((10, 784), float("nan")), "bias": torch.zeros(10)}, "weight holds non-finite values (NaN or inf)"),
    ],
    ids=["wrong-shape", "float64", "missing-bias", "nan-weight"],
)  # fmt: skip
def test_a_model_file_that_breaks_the_model_contract_is_refused_by_name(
    models, tmp_path, model, problem
):
    path = tmp_path / "scratch" / "model.safetensors"
    _write_model(path, model)

    message = _loading_refused(models)

    assert message == (
        f"{SCRATCH}: {path} is not a valid softmax regression model: {problem}. "
        f"{RETRAIN}"
    )


def test_a_model_file_whose_bytes_changed_is_refused_by_name(models, tmp_path):
    path = tmp_path / "scratch" / "model.safetensors"
    _write_model(path, {"weight": torch.zeros(10, 784), "bias": torch.zeros(10)})
    content = bytearray(path.read_bytes())
    content[-10] ^= 0xFF  # the tensor data ends the file; the header leads it
    path.write_bytes(bytes(content))

    message = _loading_refused(models)

    assert message == (
        f"{SCRATCH}: {path} was changed after it was written: its tensors do not "
        f"match the SHA-256 stored in the file. {RETRAIN}"
    )
