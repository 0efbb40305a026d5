"""Bad content never trains, serves or reports silently: each bad input met by `kedro run`.

Every case runs the real command in a copy of a small synthetic project whose
tables are made and whose models are trained once, then asserts the exit code,
the message a user reads, and that nothing good was overwritten.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from mlflow import MlflowClient
from safetensors import safe_open
from safetensors.torch import save_file

from fashion_mnist.datasets.model_dataset import FORMAT, tensor_digest
from tests.support.project import ProjectCopy, make_synthetic_project
from tests.support.runs import client_for, runs

pytestmark = pytest.mark.slow

TRAIN_TABLE = Path("data/03_primary/fashion_mnist_train.parquet")
SCRATCH_MODEL = Path("data/06_models/scratch/model.safetensors")
MODELS = [SCRATCH_MODEL, Path("data/06_models/concise/model.safetensors")]
REBUILD_TABLES = "Rebuild it with: kedro run --pipelines ingestion"
RETRAIN = "Retrain it with: kedro run --pipelines training"


@pytest.fixture(scope="module")
def trained_project(tmp_path_factory) -> ProjectCopy:
    """A synthetic project whose tables are made and whose models are trained and scored."""
    project = make_synthetic_project(tmp_path_factory.mktemp("trained") / "project")
    project.kedro("run", "--pipelines", "ingestion")
    project.kedro("run", "--pipelines", "training,evaluation")
    return project


@pytest.fixture(scope="module")
def empty_store(tmp_path_factory) -> Path:
    """An MLflow store with its tables made and no experiment of the project's yet."""
    path = tmp_path_factory.mktemp("store") / "mlflow.db"
    MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def project(trained_project, empty_store, tmp_path) -> ProjectCopy:
    """A copy of the trained project with an MLflow store of its own (no runs yet)."""
    target = tmp_path / "project"
    # The trained project's store names its artifact folder by absolute path, so
    # each copy gets an empty store; made once, it saves each run its migrations.
    shutil.copytree(
        trained_project.path,
        target,
        ignore=shutil.ignore_patterns("mlflow.db*", "mlruns"),
    )
    shutil.copy2(empty_store, target / "mlflow.db")
    return ProjectCopy(target)


def output(result: subprocess.CompletedProcess) -> str:
    """Everything the command printed, with Kedro's line wrapping undone."""
    return " ".join((result.stdout + result.stderr).split())


def model_bytes(project: ProjectCopy) -> dict[Path, bytes]:
    """Both trained model files, byte for byte."""
    return {path: (project.path / path).read_bytes() for path in MODELS}


def write_table(
    project: ProjectCopy, change: Callable[[pd.DataFrame], pd.DataFrame]
) -> None:
    """Replace the ingested training table with a changed copy of it."""
    path = project.path / TRAIN_TABLE
    change(pd.read_parquet(path)).to_parquet(path, index=False)


# ---------------------------------------------------------------- tables
def _pixels_as_floats_in_0_1(table: pd.DataFrame) -> pd.DataFrame:
    pixels = table.columns[1:]
    return pd.concat([table[["label"]], table[pixels] / 255.0], axis=1)


def _pixels_as_int64_out_of_range(table: pd.DataFrame) -> pd.DataFrame:
    pixels = table.columns[1:]
    table[pixels] = table[pixels].astype(np.int64)
    table.loc[0, "pixel_000"] = 300
    table.loc[1, "pixel_001"] = -5
    return table


def _a_nan_pixel(table: pd.DataFrame) -> pd.DataFrame:
    pixels = table.columns[1:]
    table[pixels] = table[pixels].astype(np.float64)
    table.loc[0, "pixel_000"] = np.nan
    return table


def _a_label_of_10(table: pd.DataFrame) -> pd.DataFrame:
    table.loc[0, "label"] = 10
    return table


def _no_rows(table: pd.DataFrame) -> pd.DataFrame:
    return table.iloc[:0]


def _refused_on_load(text: str) -> None:
    assert "Validation failed for dataset 'fashion_mnist_train' on load" in text
    assert "(validator: fashion_mnist.schemas.FashionMnistTable)" in text


def test_a_table_of_floats_in_0_1_is_refused_and_the_trained_models_are_kept(
    project,
):
    before = model_bytes(project)
    write_table(project, _pixels_as_floats_in_0_1)

    result = project.kedro("run", "--pipelines", "training", check=False)

    text = output(result)
    assert result.returncode != 0, text[-3000:]
    _refused_on_load(text)
    assert "784 check(s) failed" in text
    assert "pixel_000: dtype('uint8') — 1 case (e.g. float64)" in text
    assert "epoch 1/" not in text
    assert model_bytes(project) == before


@pytest.mark.parametrize(
    ("change", "problems"),
    [
        (
            _pixels_as_int64_out_of_range,
            [
                "pixel_000: dtype('uint8') — 1 case (e.g. 300)",
                "pixel_001: dtype('uint8') — 1 case (e.g. -5)",
            ],
        ),
        (_a_nan_pixel, ["pixel_000: not_nullable — 1 case (e.g. nan)"]),
        (_a_label_of_10, ["label: in_range(0, 9) — 1 case (e.g. 10)"]),
        (_no_rows, [f"the table is empty (no rows). {REBUILD_TABLES}"]),
    ],
    ids=["int64-300-and-minus-5", "nan-pixel", "label-10", "no-rows"],
)
def test_a_table_that_breaks_the_contract_is_named_and_never_trained_on(
    project, change, problems
):
    before = model_bytes(project)
    write_table(project, change)

    result = project.kedro("run", "--pipelines", "training", check=False)

    text = output(result)
    assert result.returncode != 0, text[-3000:]
    _refused_on_load(text)
    for problem in problems:
        assert problem in text
    assert "epoch 1/" not in text
    assert model_bytes(project) == before


def test_a_one_row_table_is_refused_and_the_trained_models_are_kept(project):
    before = model_bytes(project)
    write_table(project, lambda table: table.iloc[:1])

    result = project.kedro("run", "--pipelines", "training", check=False)

    text = output(result)
    assert result.returncode != 0, text[-3000:]
    _refused_on_load(text)
    assert f"every class 0..9 must have an image. {REBUILD_TABLES}" in text
    assert "epoch 1/" not in text
    assert model_bytes(project) == before


# ---------------------------------------------------------------- models
def test_a_model_whose_bytes_changed_is_refused_by_name(project):
    path = project.path / SCRATCH_MODEL
    content = bytearray(path.read_bytes())
    content[-10] ^= 0xFF  # the tensor data ends the file; the header leads it
    path.write_bytes(bytes(content))

    result = project.kedro("run", "--pipelines", "evaluation", check=False)

    text = output(result)
    assert result.returncode != 0, text[-3000:]
    assert (
        f"scratch.model: {path} was changed after it was written: its tensors do "
        "not match the SHA-256 stored in the file"
    ) in text
    assert RETRAIN in text


def _write_model(project: ProjectCopy, model: dict[str, torch.Tensor]) -> None:
    """Write a model with a true checksum, so only the model contract can fail."""
    path = project.path / SCRATCH_MODEL
    with safe_open(path, framework="pt") as f:
        run_id = (f.metadata() or {}).get("mlflow_run_id", "")
    header = {"format": FORMAT, "sha256": tensor_digest(model), "mlflow_run_id": run_id}
    save_file(model, str(path), metadata=header)


@pytest.mark.parametrize(
    ("model", "problem"),
    [
        (
            {"weight": torch.zeros(10, 783), "bias": torch.zeros(10)},
            "weight has shape (10, 783), expected (10, 784)",
        ),
        (
            {
                "weight": torch.zeros(10, 784, dtype=torch.float64),
                "bias": torch.zeros(10, dtype=torch.float64),
            },
            "weight has dtype torch.float64, expected torch.float32; "
            "bias has dtype torch.float64, expected torch.float32",
        ),
        (
            {"weight": torch.zeros(10, 784)},
            "keys ['weight'], expected ['bias', 'weight']",
        ),
        (
            {"weight": torch.full((10, 784), float("nan")), "bias": torch.zeros(10)},
            "weight holds non-finite values (NaN or inf)",
        ),
    ],
    ids=["wrong-shape", "float64", "missing-bias", "nan-weight"],
)
def test_a_model_that_breaks_the_model_contract_is_refused_by_name(
    project, model, problem
):
    _write_model(project, model)

    result = project.kedro("run", "--pipelines", "evaluation", check=False)

    text = output(result)
    assert result.returncode != 0, text[-3000:]
    assert (
        f"scratch.model: {project.path / SCRATCH_MODEL} is not a valid softmax "
        f"regression model: {problem}. {RETRAIN}"
    ) in text


# ---------------------------------------------------------------- parameters
def _not_json(constant: str) -> None:
    """Refuse NaN and Infinity, which strict JSON does not have."""
    raise ValueError(f"{constant} is not JSON")


def test_a_diverging_learning_rate_fails_the_run_and_keeps_models_and_reports(
    project,
):
    before = model_bytes(project)

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
    [run] = runs(client_for(project.path))
    assert run.info.status == "FAILED"
    assert "diverged" in run.data.tags["fashion_mnist.end_reason"]
    reports = sorted((project.path / "data" / "08_reporting").rglob("metrics.json"))
    assert reports
    for report in reports:
        json.loads(report.read_text(), parse_constant=_not_json)
    assert model_bytes(project) == before


BAD_PARAMETERS = [
    ("evaluation.on_failure=maybe", "evaluation", "input_value='maybe'"),
    (
        "evaluation.thresholds.min_test_acc=abc",
        "evaluation",
        "thresholds.min_test_acc Input should be a valid number",
    ),
    ("reporting.prediction_grid.rows=0", "reporting", "input_value=0"),
    ("reporting.prediction_grid.rows=-1", "reporting", "input_value=-1"),
    ("reporting.prediction_grid.rows=abc", "reporting", "input_value='abc'"),
    (
        "reporting.prediction_grid.rows=1000",
        "reporting",
        "reporting.prediction_grid.rows × cols = 1000 × 6",
    ),
    ("reporting.prediction_grid.dpi=5", "reporting", "input_value=5"),
    ("training.lr=-1", "training", "lr Input should be greater than 0"),
]


@pytest.mark.parametrize(
    ("override", "group", "named"),
    BAD_PARAMETERS,
    ids=[override for override, _, _ in BAD_PARAMETERS],
)
def test_a_bad_parameter_is_named_before_any_node_or_mlflow_run_starts(
    project, override, group, named
):
    result = project.kedro("run", "--params", override, check=False, timeout=120)

    text = output(result)
    assert result.returncode != 0, text[-3000:]
    assert "ParameterValidationError: Parameter validation failed:" in text
    assert f"- Parameter '{group}':" in text
    assert named in text
    assert "Running node:" not in text
    assert "epoch 1/" not in text
    assert runs(client_for(project.path)) == []


def test_a_tuning_bound_that_is_not_a_number_is_named_before_any_trial(project):
    # conf/local overrides single keys (merge_strategy soft): only lr.low changes.
    (project.path / "conf" / "local" / "parameters_tuning.yml").write_text(
        "tuning:\n  search_space:\n    lr:\n      low: abc\n"
    )

    result = project.kedro("run", "--pipelines", "tuning", check=False)

    text = output(result)
    assert result.returncode != 0, text[-3000:]
    assert "tuning.search_space.lr.low = 'abc': must be a number" in text
    assert runs(client_for(project.path)) == []
    assert not (project.path / "optuna.db").exists()
