"""The registry inside real runs: versions, the champion, the gate, and who reads it.

Runs in this process (`ProjectCopy.run`) on a copy of the synthetic project:
what is proven is how runs meet the registry, not the real data's numbers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from safetensors.torch import load_file

from fashion_mnist.params import MODELS
from fashion_mnist.pipelines.evaluation.nodes import predict_split
from fashion_mnist.schemas import IMAGE_SHAPE, PIXEL_COLUMNS
from tests.support.project import ProjectCopy
from tests.support.runs import client_for, logged_models, runs

pytestmark = pytest.mark.slow

# Undertrained: one epoch at a tiny rate, through a gate loosened to let it pass.
UNDERTRAINED = {"num_epochs": 1, "lr": 1e-4}
LOOSE_GATE = {"max_train_loss": 5.0, "min_train_acc": 0.0, "min_test_acc": 0.0}
# The runs, in order; each registers both models unless its gate fails.
RUNS = {
    "worse": {"training": UNDERTRAINED, "evaluation": {"thresholds": LOOSE_GATE}},
    "better": {},
    "worse again": {
        "training": {**UNDERTRAINED, "seed": 1},
        "evaluation": {"thresholds": LOOSE_GATE},
    },
    "failing its gate": {
        "training": UNDERTRAINED,
        "evaluation": {"on_failure": "warn"},
    },
}
IMAGES = 20


def _champion(client, model: str) -> str | None:
    """The run id of the model's champion version, or None."""
    name = f"fashion_mnist_{model}"
    if not client.search_model_versions(f"name = '{name}'"):
        return None
    return client.get_model_version_by_alias(name, "champion").run_id


@dataclass
class History:
    """The project after the RUNS and one inference run, and what happened on the way."""

    project: ProjectCopy
    runs: dict  # each MLflow run, by its key in RUNS
    champions: dict[str, list[str | None]]  # per model, the champion after each run
    images: pd.DataFrame  # the test images the inference run classified


@pytest.fixture(scope="module")
def history(synthetic_run, tmp_path_factory) -> History:
    """A copy of the synthetic project after the RUNS, then one inference run."""
    root = tmp_path_factory.mktemp("registry")
    project = synthetic_run.copy(root / "project", layers=("03_primary",))
    client = client_for(project.path)
    done, champions = {}, {model: [] for model in MODELS}
    for key, params in RUNS.items():
        known = {run.info.run_id for run in runs(client)}
        project.run(params)
        [done[key]] = [run for run in runs(client) if run.info.run_id not in known]
        for model in MODELS:
            champions[model].append(_champion(client, model))
    test = pd.read_parquet(project.path / "data/03_primary/fashion_mnist_test.parquet")
    images = test.head(IMAGES).copy()
    # A garment on black, as the conversion expects a 28 x 28 image to be.
    pixels = images[PIXEL_COLUMNS].to_numpy()
    images[PIXEL_COLUMNS] = np.where(pixels < 60, 0, pixels).astype(np.uint8)
    folder = root / "images"
    folder.mkdir()
    for i, row in enumerate(images[PIXEL_COLUMNS].to_numpy()):
        Image.fromarray(row.reshape(IMAGE_SHAPE)).save(folder / f"{i:02d}.png")
    # The default model: models:/fashion_mnist_scratch@champion.
    project.run(
        {"inference": {"images_dir": str(folder)}}, pipeline_names=["inference"]
    )
    return History(project, done, champions, images)


def test_every_run_passing_its_gate_registers_each_model_with_its_accuracy(history):
    client = client_for(history.project.path)
    registered = [history.runs[key] for key in ("worse", "better", "worse again")]

    for model in MODELS:
        versions = client.search_model_versions(f"name = 'fashion_mnist_{model}'")
        by_run = {version.run_id: version for version in versions}
        assert sorted(by_run) == sorted(run.info.run_id for run in registered)
        for run in registered:
            version = by_run[run.info.run_id]
            assert float(version.tags["test_acc"]) == pytest.approx(
                run.data.metrics[f"{model}.final.test_acc"], abs=1e-6
            )
            assert version.tags["git_commit"] == run.data.tags["git_commit"]
            assert (
                version.source == logged_models(client, run)[f"{model}_model"].model_uri
            )


def test_the_champion_moves_only_to_a_more_accurate_model(history):
    worse, better = (history.runs[key].info.run_id for key in ("worse", "better"))

    for model in MODELS:
        accuracy = {
            key: run.data.metrics[f"{model}.final.test_acc"]
            for key, run in history.runs.items()
        }
        assert accuracy["worse"] < accuracy["better"]
        assert accuracy["worse again"] < accuracy["better"]
        assert history.champions[model] == [worse, better, better, better]


def test_a_run_failing_its_gate_finishes_with_its_reports_and_registers_nothing(
    history,
):
    client = client_for(history.project.path)
    failing = history.runs["failing its gate"]

    assert failing.info.status == "FINISHED"
    assert failing.data.metrics["scratch.final.train_loss"] > 0.5
    for model in MODELS:
        versions = client.search_model_versions(f"name = 'fashion_mnist_{model}'")
        assert failing.info.run_id not in {version.run_id for version in versions}


def _weights(client, run, model: str):
    """The weights a run logged for ``model``, read from its artifact folder."""
    folder = logged_models(client, run)[f"{model}_model"].artifact_location
    return load_file(
        Path(folder.removeprefix("file://")) / "artifacts/model.safetensors"
    )


def test_the_inference_pipeline_classifies_with_the_champion_not_the_latest_version(
    history,
):
    client = client_for(history.project.path)
    better, latest = history.runs["better"], history.runs["worse again"]

    predictions = pd.read_csv(
        history.project.path / "data/07_model_output/inference/predictions.csv"
    )

    champion = predict_split(_weights(client, better, "scratch"), history.images)
    latest = predict_split(_weights(client, latest, "scratch"), history.images)
    np.testing.assert_array_equal(predictions["predicted"], champion["predicted"])
    assert (predictions["predicted"] != latest["predicted"]).any()


def test_the_inference_run_logs_the_images_it_classified_as_its_dataset_input(
    history,
):
    client = client_for(history.project.path)
    (inference,) = [
        run
        for run in runs(client)
        if run.data.tags.get("kedro.pipelines") == "inference"
    ]

    (logged,) = inference.inputs.dataset_inputs

    assert logged.dataset.name == "inference_images"
    assert {t.key: t.value for t in logged.tags}["mlflow.data.context"] == "inference"
    assert json.loads(logged.dataset.profile)["num_rows"] == IMAGES
    assert json.loads(logged.dataset.source)["uri"].endswith("images")


def test_a_run_failing_its_gate_still_marks_what_a_dead_registration_left(
    synthetic_run, tmp_path
):
    project = synthetic_run.copy(tmp_path / "project", layers=("03_primary",))
    project.run()
    client = client_for(project.path)
    (killed,) = runs(client)
    name = "fashion_mnist_concise"
    (version,) = client.search_model_versions(f"name = '{name}'")
    # What a kill -9 after the alias moved and before the last tag leaves, once
    # the next run has ended the run KILLED (test_kill.py kills a real process).
    client.set_model_version_tag(name, version.version, "registration", "pending")
    client.set_terminated(killed.info.run_id, "KILLED")

    project.run(RUNS["failing its gate"])

    failing = runs(client)[-1]
    marked = client.get_model_version(name, version.version)
    assert failing.data.metrics["concise.final.train_loss"] > 0.5
    assert [v.run_id for v in client.search_model_versions(f"name = '{name}'")] == [
        killed.info.run_id
    ]
    assert marked.tags["registration"] == "complete"
    assert marked.tags["registration_note"] == (
        f"registration by run {killed.info.run_id} left unfinished (its run ended "
        "KILLED); its alias had moved: it is the champion"
    )
