"""The model file: safetensors, checked on load, with the run that trained it."""

import pytest
import torch
from kedro.io import DatasetError

from fashion_mnist.datasets import SoftmaxModelDataset
from fashion_mnist.datasets.model_dataset import read_provenance
from fashion_mnist.tracking import run


def _model(seed=0):
    generator = torch.Generator().manual_seed(seed)
    return {
        "weight": torch.randn(10, 784, generator=generator),
        "bias": torch.zeros(10),
    }


def test_a_saved_model_loads_back_identical_and_records_its_run(tmp_path):
    path = tmp_path / "model.safetensors"
    run.bind("run-123", "sqlite:///unused.db", frozenset())
    try:
        SoftmaxModelDataset(filepath=str(path)).save(_model())
    finally:
        run.unbind()

    loaded = SoftmaxModelDataset(filepath=str(path)).load()

    assert all(torch.equal(loaded[k], _model()[k]) for k in ("weight", "bias"))
    assert read_provenance(path)["mlflow_run_id"] == "run-123"


def test_bytes_changed_inside_the_tensor_data_are_detected(tmp_path):
    path = tmp_path / "model.safetensors"
    SoftmaxModelDataset(filepath=str(path)).save(_model())
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF
    path.write_bytes(bytes(data))

    with pytest.raises(
        DatasetError, match=r"model\.safetensors was changed after it was written"
    ):
        SoftmaxModelDataset(filepath=str(path)).load()


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ({"weight": torch.zeros(10, 783), "bias": torch.zeros(10)}, r"weight has shape \(10, 783\), expected \(10, 784\)"),
        ({"weight": torch.zeros(10, 784, dtype=torch.float64), "bias": torch.zeros(10)}, r"weight has dtype torch.float64"),
        ({"weight": torch.zeros(10, 784)}, r"keys \['weight'\], expected \['bias', 'weight'\]"),
        ({"weight": torch.full((10, 784), float("nan")), "bias": torch.zeros(10)}, r"weight holds non-finite values"),
    ],
)  # fmt: skip
def test_a_model_breaking_the_contract_is_refused_naming_the_file(
    tmp_path, model, message
):
    with pytest.raises(DatasetError, match=message):
        SoftmaxModelDataset(filepath=str(tmp_path / "model.safetensors")).save(model)
    assert not (tmp_path / "model.safetensors").exists()


def test_a_model_that_is_not_safetensors_is_unreadable_with_the_retrain_command(
    tmp_path,
):
    path = tmp_path / "model.safetensors"
    path.write_bytes(b"\x80\x04 a pickle")

    with pytest.raises(
        DatasetError,
        match=r"is unreadable .* Retrain it with: kedro run --pipelines training",
    ):
        SoftmaxModelDataset(filepath=str(path)).load()
