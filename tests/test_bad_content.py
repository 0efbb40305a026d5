"""Bad content met by a real `kedro run`: one process for each kind of contract.

Each case runs the real command in a copy of what one default run of the
synthetic project left (tables, models, reports: the `synthetic_run` fixture),
then asserts the exit status, the message a user reads, the MLflow record,
and that no model or report was overwritten. The variants of each contract
(every bad table, parameter and model) are proven in process by
tests/test_table_contract.py, test_parameter_contract.py and test_model_contract.py.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import torch
from mlflow import MlflowClient
from safetensors import safe_open
from safetensors.torch import save_file

from fashion_mnist.datasets.model_dataset import FORMAT, tensor_digest
from fashion_mnist.params import MODELS
from fashion_mnist.schemas import PIXEL_COLUMNS, RETRAIN
from tests.support.project import ProjectCopy
from tests.support.runs import client_for, runs

pytestmark = pytest.mark.slow

TRAIN_TABLE = Path("data/03_primary/fashion_mnist_train.parquet")
SCRATCH_MODEL = Path("data/06_models/scratch/model.safetensors")
# What a run that fails must leave as it was: the models, their outputs, the reports.
KEPT = ("06_models", "07_model_output", "08_reporting")


@pytest.fixture(scope="module")
def empty_store(tmp_path_factory) -> Path:
    """An MLflow store with its tables made and no experiment of the project's yet."""
    path = tmp_path_factory.mktemp("store") / "mlflow.db"
    MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def project(synthetic_run, empty_store, tmp_path) -> ProjectCopy:
    """A copy of the synthetic run's tables, models and reports, with no MLflow run."""
    project = synthetic_run.copy(tmp_path / "project", layers=("03_primary", *KEPT))
    # Made once, an empty store saves each `kedro` process its migrations.
    shutil.copy2(empty_store, project.path / "mlflow.db")
    return project


def output(result: subprocess.CompletedProcess) -> str:
    """Everything the command printed, with Kedro's line wrapping undone."""
    return " ".join((result.stdout + result.stderr).split())


def kept_files(project: ProjectCopy) -> dict[str, bytes]:
    """Every model, model output and report file of the project, byte for byte."""
    return {
        path.relative_to(project.path).as_posix(): path.read_bytes()
        for layer in KEPT
        for path in sorted((project.path / "data" / layer).rglob("*"))
        if path.is_file()
    }


def the_failed_run(project: ProjectCopy):
    """The one MLflow run of the copy, which must have ended FAILED."""
    [run] = runs(client_for(project.path))
    assert run.info.status == "FAILED"
    return run


def test_a_table_that_breaks_the_contract_fails_the_run_before_any_training(project):
    before = kept_files(project)
    path = project.path / TRAIN_TABLE
    table = pd.read_parquet(path)
    table[PIXEL_COLUMNS] = table[PIXEL_COLUMNS] / 255.0  # floats in 0-1
    table.to_parquet(path, index=False)

    result = project.kedro("run", "--pipelines", "training", check=False)

    text = output(result)
    assert result.returncode != 0, text[-3000:]
    assert "Validation failed for dataset 'fashion_mnist_train' on load" in text
    assert "(validator: fashion_mnist.schemas.FashionMnistTable)" in text
    assert "pixel_000: dtype('uint8') — 1 case (e.g. float64)" in text
    assert "epoch 1/" not in text
    assert (
        "fashion_mnist_train"
        in the_failed_run(project).data.tags["fashion_mnist.end_reason"]
    )
    assert kept_files(project) == before


def test_bad_parameters_are_named_together_before_any_node_or_mlflow_run_starts(
    project,
):
    before = kept_files(project)
    # conf/local overrides single keys (merge_strategy soft): only lr.low changes.
    (project.path / "conf" / "local" / "parameters_tuning.yml").write_text(
        "tuning:\n  search_space:\n    lr:\n      low: abc\n"
    )

    result = project.kedro(
        "run", "--pipelines", "tuning", "--params", "training.lr=-1", check=False
    )

    text = output(result)
    assert result.returncode == 1, text[-3000:]
    assert text.endswith(
        "Error: 2 parameter values are invalid; fix each in conf/ or with --params, "
        "nothing was run: - training.lr = -1: Input should be greater than 0 "
        "- tuning.search_space.lr.low = 'abc': must be a number"
    )
    assert "Traceback" not in text
    assert "Running node:" not in text
    assert runs(client_for(project.path)) == []
    assert not (project.path / "optuna.db").exists()
    assert kept_files(project) == before


def test_a_model_that_breaks_the_model_contract_fails_the_run_naming_it(project):
    before = kept_files(project)
    path = project.path / SCRATCH_MODEL
    with safe_open(path, framework="pt") as f:
        run_id = (f.metadata() or {}).get("mlflow_run_id", "")
    # A true checksum, so that only the model contract can fail.
    model = {"weight": torch.zeros(10, 783), "bias": torch.zeros(10)}
    header = {"format": FORMAT, "sha256": tensor_digest(model), "mlflow_run_id": run_id}
    save_file(model, str(path), metadata=header)
    before[SCRATCH_MODEL.as_posix()] = path.read_bytes()

    result = project.kedro("run", "--pipelines", "evaluation", check=False)

    text = output(result)
    assert result.returncode != 0, text[-3000:]
    assert (
        f"scratch.model: {path} is not a valid softmax regression model: weight "
        f"has shape (10, 783), expected (10, 784). {RETRAIN}"
    ) in text
    assert (
        "is not a valid softmax regression model"
        in the_failed_run(project).data.tags["fashion_mnist.end_reason"]
    )
    assert kept_files(project) == before


def test_a_diverging_learning_rate_fails_the_run_and_keeps_models_and_reports(
    project,
):
    before = kept_files(project)

    result = project.kedro(
        "run",
        "--pipelines",
        "training,evaluation,reporting",
        "--params",
        "training.lr=1e38",
        check=False,
    )

    text = output(result)
    assert result.returncode != 0, text[-3000:]
    assert re.search(
        r"TrainingDivergedError: \w+: training diverged at epoch \d+ \(.*?\): "
        r"lower training\.lr \(now 1e\+38\)",
        text,
    )
    assert "diverged" in the_failed_run(project).data.tags["fashion_mnist.end_reason"]
    assert kept_files(project) == before
    assert {f"data/06_models/{m}/model.safetensors" for m in MODELS} <= set(before)
    assert {f"data/08_reporting/{m}/metrics.json" for m in MODELS} <= set(before)
