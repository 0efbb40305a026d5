"""The registry: a run's logged models become versions; the champion moves to a better one."""

from __future__ import annotations

import mlflow
import pytest
import torch
from kedro.io import DatasetError
from mlflow import MlflowClient

from fashion_mnist.datasets import MlflowSoftmaxModelDataset, ModelRegistryDataset
from fashion_mnist.tracking import run

NAME = "fashion_mnist_scratch"


def _experiment(tmp_path) -> str:
    """The test's experiment, its artifacts under ``tmp_path``."""
    found = mlflow.get_experiment_by_name("registry")
    if found is not None:
        return found.experiment_id
    return mlflow.create_experiment("registry", (tmp_path / "artifacts").as_uri())


def _run_that_logged_a_model(uri: str, tmp_path, test_acc: float) -> str:
    """An MLflow run, bound as a kedro run binds it, that logged ``scratch_model``."""
    mlflow_run = mlflow.start_run(experiment_id=_experiment(tmp_path))
    run_id = mlflow_run.info.run_id
    run.bind(run_id, uri, frozenset())
    model = {"weight": torch.full((10, 784), test_acc), "bias": torch.zeros(10)}
    MlflowSoftmaxModelDataset(
        filepath=str(tmp_path / run_id / "model.safetensors"), name="scratch_model"
    ).save(model)
    return run_id


def _register(uri: str, tmp_path, test_acc: float) -> str:
    run_id = _run_that_logged_a_model(uri, tmp_path, test_acc)
    try:
        ModelRegistryDataset().save({"scratch": {"test_acc": test_acc}})
    finally:
        run.unbind()
        mlflow.end_run()
    return run_id


def test_each_run_registers_a_version_linked_to_its_run_and_logged_model(
    mlflow_store, tmp_path
):
    run_id = _register(mlflow_store, tmp_path, 0.80)

    client = MlflowClient(mlflow_store)
    version = client.get_model_version(NAME, "1")
    (logged,) = client.search_logged_models(
        experiment_ids=[client.get_run(run_id).info.experiment_id]
    )
    assert version.run_id == run_id
    assert version.source == f"models:/{logged.model_id}"
    assert version.tags["test_acc"] == "0.800000"
    assert version.tags["mlflow_run_id"] == run_id


def test_the_champion_moves_only_to_a_better_test_accuracy(mlflow_store, tmp_path):
    first = _register(mlflow_store, tmp_path, 0.80)
    _register(mlflow_store, tmp_path, 0.70)
    client = MlflowClient(mlflow_store)
    after_worse = client.get_model_version_by_alias(NAME, "champion")
    third = _register(mlflow_store, tmp_path, 0.90)
    after_better = client.get_model_version_by_alias(NAME, "champion")

    assert (str(after_worse.version), after_worse.run_id) == ("1", first)
    assert (str(after_better.version), after_better.run_id) == ("3", third)


def test_a_run_that_logged_no_model_cannot_register_and_says_why(
    mlflow_store, tmp_path
):
    run_id = mlflow.start_run(experiment_id=_experiment(tmp_path)).info.run_id
    run.bind(run_id, mlflow_store, frozenset())
    try:
        with pytest.raises(DatasetError, match="logged no model 'scratch_model'"):
            ModelRegistryDataset().save({"scratch": {"test_acc": 0.8}})
    finally:
        run.unbind()
