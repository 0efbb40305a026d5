"""Training with default parameters on the real Fashion-MNIST (run in CI)."""

import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

pytestmark = pytest.mark.real_data


@pytest.mark.parametrize("model", ["scratch", "concise"])
def test_default_training_reaches_the_classic_thresholds(real_run, model):
    history = pd.read_csv(
        real_run.path / "data/07_model_output" / model / "history.csv"
    )
    final = history.iloc[-1]

    assert len(history) == 10
    assert final["train_loss"] < 0.5
    assert final["train_acc"] > 0.7
    assert final["test_acc"] > 0.7


@pytest.mark.parametrize("model", ["scratch", "concise"])
def test_the_saved_model_loads_without_the_training_code(real_run, model):
    state = load_file(real_run.path / "data/06_models" / model / "model.safetensors")

    assert state["weight"].shape == (10, 784) and state["bias"].shape == (10,)
    assert torch.isfinite(state["weight"]).all()


def test_every_epoch_is_logged_once_per_model(real_run):
    log = real_run.last_run.stdout + real_run.last_run.stderr

    for model in ["scratch", "concise"]:
        for epoch in range(1, 11):
            assert log.count(f"{model}: epoch {epoch}/10 loss ") == 1
