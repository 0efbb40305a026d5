"""What one `kedro run` records in MLflow, read back with MlflowClient."""

import shutil

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from fashion_mnist.schemas import PIXEL_COLUMNS
from tests.support.project import SYNTHETIC_TRAINING, make_synthetic_project

MODELS = ["scratch", "concise"]
FIGURES = ["prediction_grid.png", "learning_curves.png", "confusion_matrix.png"]
EXPECTED_ARTIFACTS = {
    "model_comparison.csv",
    "learning_curves.png",
    *(f"{m}/{f}" for m in MODELS for f in [*FIGURES, "metrics.json", "history.csv"]),
}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    project = make_synthetic_project(tmp_path_factory.mktemp("mlflow") / "project")
    project.kedro("run")
    project.first_outputs = tmp_path_factory.mktemp("first-run") / "data"
    shutil.copytree(project.path / "data", project.first_outputs)
    return project


@pytest.fixture(scope="module")
def first_outputs(project):
    """The data folder as the first run left it, whatever order the tests run in.

    Taken right after the first run, before any test runs kedro again.
    """
    return project.first_outputs


@pytest.fixture(scope="module")
def client(project):
    return MlflowClient(f"sqlite:///{project.path / 'mlflow.db'}")


def _runs(client):
    experiment = client.get_experiment_by_name("fashion_mnist")
    return client.search_runs(
        [experiment.experiment_id], order_by=["attributes.start_time ASC"]
    )


def _artifacts(client, run_id, path=None):
    files = set()
    for item in client.list_artifacts(run_id, path):
        files |= _artifacts(client, run_id, item.path) if item.is_dir else {item.path}
    return files


def assert_complete_run(client, run, epochs):
    """Params, tags, metric histories, artifacts and loadable models of one run."""
    params, tags, metrics = run.data.params, run.data.tags, run.data.metrics
    assert params["training.lr"] == str(SYNTHETIC_TRAINING["lr"])
    assert params["training.batch_size"] == str(SYNTHETIC_TRAINING["batch_size"])
    assert params["evaluation.thresholds.min_test_acc"] == "0.7"
    assert params["reporting.prediction_grid.cols"] == "6"
    for tag in [
        "git_commit",
        "git_dirty",
        "torch_version",
        "kedro_version",
        "mlflow_version",
    ]:
        assert tags[tag]
    assert tags["device"] == "cpu" and tags["seed"] == "0"
    assert {t for t in tags if t.startswith("data_md5.")} == {
        f"data_md5.{f}"
        for f in [
            "train-images-idx3-ubyte.gz",
            "train-labels-idx1-ubyte.gz",
            "t10k-images-idx3-ubyte.gz",
            "t10k-labels-idx1-ubyte.gz",
        ]
    }
    for model in MODELS:
        for metric in ["train_loss", "train_acc", "test_acc"]:
            history = client.get_metric_history(run.info.run_id, f"{model}.{metric}")
            assert sorted(m.step for m in history) == list(range(1, epochs + 1))
        for final in ["train_loss", "train_acc", "test_loss", "test_acc"]:
            assert f"{model}.final.{final}" in metrics
        assert f"{model}.final.test_acc.Ankle boot" in metrics
    assert EXPECTED_ARTIFACTS <= _artifacts(client, run.info.run_id)


def _logged_models(client, run):
    models = client.search_logged_models(
        experiment_ids=[run.info.experiment_id],
        filter_string=f"source_run_id = '{run.info.run_id}'",
    )
    return {m.name: m for m in models}


def test_one_run_records_params_tags_metric_histories_and_artifacts(project, client):
    runs = _runs(client)

    assert len(runs) >= 1
    first = runs[0]
    assert first.info.status == "FINISHED"
    assert first.info.run_name == "__default__ defaults"
    assert_complete_run(client, first, epochs=SYNTHETIC_TRAINING["num_epochs"])


def test_the_final_metrics_match_the_metrics_files(first_outputs, client):
    run = _runs(client)[0]

    for model in MODELS:
        saved = pd.read_json(
            first_outputs / f"08_reporting/{model}/metrics.json", typ="series"
        )
        assert run.data.metrics[f"{model}.final.test_acc"] == pytest.approx(
            saved["test_acc"]
        )
        assert run.data.metrics[f"{model}.final.train_loss"] == pytest.approx(
            saved["train_loss"]
        )


def test_both_models_load_with_pyfunc_and_predict_what_evaluation_predicted(
    first_outputs, client
):
    run = _runs(client)[0]
    test = pd.read_parquet(first_outputs / "03_primary/fashion_mnist_test.parquet")
    images = test[PIXEL_COLUMNS].to_numpy(dtype=np.uint8)
    mlflow.set_tracking_uri(client.tracking_uri)

    logged = _logged_models(client, run)

    assert set(logged) == {f"{m}_model" for m in MODELS}
    for model in MODELS:
        pyfunc = mlflow.pyfunc.load_model(logged[f"{model}_model"].model_uri)
        predicted = pyfunc.predict(images)
        expected = pd.read_parquet(
            first_outputs / f"07_model_output/{model}/test_predictions.parquet"
        )
        np.testing.assert_array_equal(predicted["class_index"], expected["predicted"])
        np.testing.assert_allclose(
            predicted[[f"proba_{k}" for k in range(10)]].sum(axis=1), 1.0, rtol=1e-5
        )
        # The model checks its input contract itself (MLflow would cast first).
        assert pyfunc.metadata.get_input_schema() is None
        outputs = pyfunc.metadata.get_output_schema().input_names()
        assert outputs == ["class_index", *(f"proba_{k}" for k in range(10))]
        assert "integers 0–255" in pyfunc.metadata.metadata["input"]


def test_two_learning_rates_give_two_runs_with_their_own_params(project, client):
    project.kedro("run", "--params", "training.lr=0.3")

    runs = _runs(client)

    by_lr = {run.data.params["training.lr"]: run for run in runs}
    assert {"0.5", "0.3"} <= set(by_lr)
    assert by_lr["0.3"].info.run_name == "__default__ training.lr=0.3"
    assert by_lr["0.3"].info.run_id != by_lr["0.5"].info.run_id


def test_a_failing_gate_leaves_a_failed_run_with_its_metrics_and_artifacts(
    project, client
):
    result = project.kedro(
        "run", "--params", "evaluation.thresholds.max_train_loss=0.000001", check=False
    )

    run = _runs(client)[-1]
    assert result.returncode != 0
    assert "Threshold gate failed" in result.stdout + result.stderr
    assert run.info.status == "FAILED"
    assert "scratch.final.test_acc" in run.data.metrics
    assert EXPECTED_ARTIFACTS <= _artifacts(client, run.info.run_id)


@pytest.mark.real_data
def test_the_default_real_run_records_the_final_test_accuracy_of_both_models(real_run):
    client = MlflowClient(f"sqlite:///{real_run.path / 'mlflow.db'}")

    runs = [r for r in _runs(client) if r.info.run_name == "__default__ defaults"]

    assert len(runs) == 1 and runs[0].info.status == "FINISHED"
    for model in MODELS:
        saved = pd.read_json(
            real_run.path / f"data/08_reporting/{model}/metrics.json", typ="series"
        )
        assert runs[0].data.metrics[f"{model}.final.test_acc"] == pytest.approx(
            saved["test_acc"]
        )
        assert saved["test_acc"] > 0.7
