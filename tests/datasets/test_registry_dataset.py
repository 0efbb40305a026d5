"""The registry: versions with their evidence, a champion that moves on evidence, no half registration.

Each registration is a crafted run in a throw-away store: it logs a model and
its test predictions as a kedro run does, then saves what the registry node
decides against the champion that ChampionsDataset reads back.
"""

from __future__ import annotations

import logging

import mlflow
import numpy as np
import pandas as pd
import pytest
import torch
from kedro.io import DatasetError
from mlflow import MlflowClient

from fashion_mnist.datasets import (
    ChampionsDataset,
    MlflowSoftmaxModelDataset,
    ModelRegistryDataset,
    RegisteredModelDataset,
    RunFileDataset,
)
from fashion_mnist.params import RegistryParams
from fashion_mnist.pipelines.registry.nodes import champion_decision
from fashion_mnist.tracking import run

NAME = "fashion_mnist_scratch"
IMAGES = 1_000


def _experiment(tmp_path) -> str:
    """The test's experiment, its artifacts under ``tmp_path``."""
    found = mlflow.get_experiment_by_name("registry")
    if found is not None:
        return found.experiment_id
    return mlflow.create_experiment("registry", (tmp_path / "artifacts").as_uri())


def _predicted(right: int) -> pd.DataFrame:
    """Predictions of IMAGES fixed labels: the first ``right`` right, the rest wrong."""
    labels = np.arange(IMAGES) % 10
    predicted = np.where(np.arange(IMAGES) < right, labels, (labels + 1) % 10)
    return pd.DataFrame({"label": labels, "predicted": predicted}).astype("int8")


def _start(uri: str, tmp_path, models=("scratch",), right: int = 800) -> str:
    """A bound MLflow run that logged each model and its test predictions."""
    run_id = mlflow.start_run(experiment_id=_experiment(tmp_path)).info.run_id
    run.bind(run_id, uri, frozenset())
    for model in models:
        weights = {
            "weight": torch.full((10, 784), right / IMAGES),
            "bias": torch.zeros(10),
        }
        MlflowSoftmaxModelDataset(
            filepath=str(tmp_path / run_id / model / "model.safetensors"),
            name=f"{model}_model",
        ).save(weights)
        RunFileDataset(
            dataset={
                "type": "pandas.ParquetDataset",
                "filepath": str(tmp_path / run_id / model / "test_predicted.parquet"),
            },
            artifact_path=model,
        ).save(_predicted(right))
    return run_id


def _facts(right: int, champion, registry: RegistryParams) -> dict:
    acc = right / IMAGES
    return {
        "test_acc": acc,
        "test_acc_ci_low": acc - 0.02,
        "test_acc_ci_high": acc + 0.02,
        "test_per_class_acc": {"T-shirt/top": acc},
        "data": {"fashion_mnist_test": "d" * 32},
        "decision": champion_decision(acc, _predicted(right), champion, registry),
    }


DEFAULT_POLICY = RegistryParams()


def _register(uri, tmp_path, right: int, registry=DEFAULT_POLICY) -> str:
    """One run: log, read the champion back, decide, register."""
    run_id = _start(uri, tmp_path, right=right)
    try:
        champion = ChampionsDataset().load()["scratch"]
        ModelRegistryDataset().save({"scratch": _facts(right, champion, registry)})
    finally:
        run.unbind()
        mlflow.end_run()
    return run_id


def _champion(client) -> str:
    return str(client.get_model_version_by_alias(NAME, "champion").version)


def test_each_version_is_linked_to_its_run_and_model_and_carries_its_evidence(
    mlflow_store, tmp_path
):
    run_id = _register(mlflow_store, tmp_path, right=800)

    client = MlflowClient(mlflow_store)
    version = client.get_model_version(NAME, "1")
    (logged,) = client.search_logged_models(
        experiment_ids=[client.get_run(run_id).info.experiment_id]
    )
    assert version.run_id == run_id
    assert version.source == f"models:/{logged.model_id}"
    assert version.tags["test_acc"] == "0.800000"
    assert version.tags["test_acc_ci_low"] == "0.780000"
    assert version.tags["registration"] == "complete"
    assert "**Test accuracy 0.8000** (95% Wilson score interval 0.7800 – 0.8200)" in (
        version.description
    )
    assert f"MLflow run `{run_id}`" in version.description
    assert "| fashion_mnist_test | `dddddddd" in version.description


def test_the_champion_moves_on_a_significant_gain_stays_on_a_lucky_one_and_policy_better_moves(
    mlflow_store, tmp_path, caplog
):
    client = MlflowClient(mlflow_store)
    _register(mlflow_store, tmp_path, right=800)
    # 805 vs 800 of 1,000: 5 images only the new one gets right, p = 2 / 2**5.
    with caplog.at_level(
        logging.INFO, logger="fashion_mnist.datasets.registry_dataset"
    ):
        _register(mlflow_store, tmp_path, right=805)
    after_lucky = _champion(client)
    _register(
        mlflow_store, tmp_path, right=806, registry=RegistryParams(policy="better")
    )
    after_better_policy = _champion(client)
    # 900 vs 806: 94 images only the new one gets right.
    _register(mlflow_store, tmp_path, right=900)

    lucky = client.get_model_version(NAME, "2")
    assert after_lucky == "1"
    assert (
        lucky.tags["champion_decision"]
        == "0.8050 vs 0.8000, p = 0.062: not significant"
    )
    assert lucky.tags["promote"] == "false"
    assert float(lucky.tags["p_value_vs_champion"]) == pytest.approx(2 / 2**5)
    assert (
        "Registered fashion_mnist_scratch version 2; the champion stays version 1: "
        "0.8050 vs 0.8000, p = 0.062: not significant" in caplog.text
    )
    assert (
        "Compared with version 1: 0.8050 vs 0.8000, p = 0.062: not significant "
        "(difference +0.0050, p = 0.0625; policy `significant`, alpha = 0.05"
    ) in lucky.description
    assert "**the champion stayed version 1**" in lucky.description
    assert after_better_policy == "3"
    assert _champion(client) == "4"
    assert (
        client.get_model_version(NAME, "4")
        .tags["champion_decision"]
        .endswith(": significant")
    )


def test_the_champions_predictions_are_read_back_from_the_tracking_store(
    mlflow_store, tmp_path
):
    run_id = _register(mlflow_store, tmp_path, right=800)
    for local in (tmp_path / run_id).rglob("test_predicted.parquet"):
        local.unlink()

    champion = ChampionsDataset().load()

    assert champion["concise"] is None
    assert champion["scratch"]["version"] == "1"
    pd.testing.assert_frame_equal(champion["scratch"]["predictions"], _predicted(800))


def test_a_registration_failing_at_its_second_model_moves_no_alias_and_marks_the_first(
    mlflow_store, tmp_path
):
    client = MlflowClient(mlflow_store)
    run_id = _start(mlflow_store, tmp_path, models=("scratch", "concise"))
    facts = _facts(800, None, RegistryParams())
    unregistrable = {k: v for k, v in facts.items() if k != "test_acc_ci_low"}
    try:
        with pytest.raises(DatasetError, match="test_acc_ci_low"):
            ModelRegistryDataset().save({"scratch": facts, "concise": unregistrable})
    finally:
        run.unbind()
        mlflow.end_run()

    (version,) = client.search_model_versions(f"name = '{NAME}'")
    assert version.run_id == run_id
    assert version.tags["registration"] == "abandoned"
    assert version.tags["registration_note"].endswith(
        "(registration failed); it never became champion"
    )
    assert not client.search_model_versions("name = 'fashion_mnist_concise'")
    assert client.get_registered_model(NAME).aliases == {}


def test_versions_a_killed_run_left_pending_are_marked_by_the_next_registration(
    mlflow_store, tmp_path
):
    client = MlflowClient(mlflow_store)
    # What kill -9 between the two alias moves leaves: both versions registered
    # and pending, scratch's alias moved, concise's not; the run ended KILLED.
    killed = _start(mlflow_store, tmp_path, models=("scratch", "concise"))
    for model in ("scratch", "concise"):
        (logged,) = client.search_logged_models(
            experiment_ids=[_experiment(tmp_path)],
            filter_string=f"source_run_id = '{killed}' AND name = '{model}_model'",
        )
        mlflow.register_model(
            f"models:/{logged.model_id}",
            f"fashion_mnist_{model}",
            tags={
                "registration": "pending",
                "registered_with": "concise,scratch",
                "test_acc": "0.800000",
            },
        )
    client.set_registered_model_alias(NAME, "champion", "1")
    run.unbind()
    mlflow.end_run(status="KILLED")

    _register(mlflow_store, tmp_path, right=800)

    moved = client.get_model_version(NAME, "1")
    stuck = client.get_model_version("fashion_mnist_concise", "1")
    why = f"registration by run {killed} left unfinished (its run ended KILLED)"
    assert moved.tags["registration"] == "complete"
    assert (
        moved.tags["registration_note"]
        == f"{why}; its alias had moved: it is the champion"
    )
    assert stuck.tags["registration"] == "abandoned"
    assert stuck.tags["registration_note"] == f"{why}; it never became champion"
    assert client.get_registered_model("fashion_mnist_concise").aliases == {}
    # The next version was compared with the killed run's champion, on its predictions.
    assert _champion(client) == "1"
    assert client.get_model_version(NAME, "2").tags["champion_decision"] == (
        "0.8000 vs 0.8000, p = 1: not better"
    )


def test_a_run_that_logged_no_model_cannot_register_and_says_why(
    mlflow_store, tmp_path
):
    run_id = mlflow.start_run(experiment_id=_experiment(tmp_path)).info.run_id
    run.bind(run_id, mlflow_store, frozenset())
    try:
        with pytest.raises(DatasetError, match="logged no model 'scratch_model'"):
            ModelRegistryDataset().save(
                {"scratch": _facts(800, None, RegistryParams())}
            )
    finally:
        run.unbind()


def test_loading_the_champion_says_which_version_the_alias_resolved_to(
    mlflow_store, tmp_path, caplog
):
    run_id = _register(mlflow_store, tmp_path, right=800)

    with caplog.at_level(
        logging.INFO, logger="fashion_mnist.datasets.registered_model_dataset"
    ):
        model = RegisteredModelDataset(
            model_uri="models:/fashion_mnist_scratch@champion"
        ).load()

    assert model["weight"].shape == (10, 784)
    assert float(model["weight"][0, 0]) == pytest.approx(0.8)
    assert (
        "Loaded models:/fashion_mnist_scratch@champion = fashion_mnist_scratch "
        f"version 1 (run {run_id})" in caplog.text
    )
