"""What one `kedro run` records in MLflow, read back with MlflowClient."""

import mlflow
import numpy as np
import pandas as pd
import pytest

from fashion_mnist.params import MODELS
from fashion_mnist.schemas import PIXEL_COLUMNS
from fashion_mnist.tracking.gate import ThresholdGateError
from tests.support.project import SYNTHETIC_TRAINING
from tests.support.runs import (
    EVERY_ARTIFACT,
    artifacts,
    assert_complete_record,
    client_for,
    logged_models,
    run_named,
    runs,
)

DEFAULTS = "__default__ defaults"


def test_one_run_records_params_tags_metric_histories_and_artifacts(synthetic_run):
    client = client_for(synthetic_run.path)

    run = run_named(client, DEFAULTS)

    assert run.info.status == "FINISHED"
    assert_complete_record(
        client,
        run,
        epochs=SYNTHETIC_TRAINING["num_epochs"],
        params={
            "training.lr": str(SYNTHETIC_TRAINING["lr"]),
            "training.batch_size": str(SYNTHETIC_TRAINING["batch_size"]),
        },
        tags={"device": "cpu"},
    )


def test_the_final_metrics_match_the_metrics_files(synthetic_run):
    run = run_named(client_for(synthetic_run.path), DEFAULTS)

    for model in MODELS:
        saved = pd.read_json(
            synthetic_run.path / f"data/08_reporting/{model}/metrics.json",
            typ="series",
        )
        assert run.data.metrics[f"{model}.final.test_acc"] == pytest.approx(
            saved["test_acc"]
        )
        assert run.data.metrics[f"{model}.final.train_loss"] == pytest.approx(
            saved["train_loss"]
        )


def test_both_models_load_with_pyfunc_and_predict_what_evaluation_predicted(
    synthetic_run,
):
    client = client_for(synthetic_run.path)
    run = run_named(client, DEFAULTS)
    data = synthetic_run.path / "data"
    test = pd.read_parquet(data / "03_primary/fashion_mnist_test.parquet")
    images = test[PIXEL_COLUMNS].to_numpy(dtype=np.uint8)
    mlflow.set_tracking_uri(client.tracking_uri)

    logged = logged_models(client, run)

    assert set(logged) == {f"{m}_model" for m in MODELS}
    for model in MODELS:
        pyfunc = mlflow.pyfunc.load_model(logged[f"{model}_model"].model_uri)
        predicted = pyfunc.predict(images)
        expected = pd.read_parquet(
            data / f"07_model_output/{model}/test_predictions.parquet"
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


def test_a_failing_gate_leaves_a_failed_run_with_its_metrics_and_artifacts(
    tmp_path, synthetic_run
):
    project = synthetic_run.copy(
        tmp_path / "project", ("01_raw", "03_primary"), store=True
    )
    client = client_for(project.path)

    with pytest.raises(ThresholdGateError, match="Threshold gate failed"):
        project.run(
            runtime_params={"evaluation": {"thresholds": {"max_train_loss": 1e-6}}}
        )

    (run,) = runs(client)
    assert run.info.status == "FAILED"
    assert run.data.tags["fashion_mnist.end_reason"].startswith(
        "ThresholdGateError: Threshold gate failed"
    )
    assert "scratch.final.test_acc" in run.data.metrics
    assert EVERY_ARTIFACT <= artifacts(client, run.info.run_id)


@pytest.mark.real_data
def test_the_default_real_run_records_the_final_test_accuracy_of_both_models(real_run):
    run = run_named(client_for(real_run.path), DEFAULTS)

    assert run.info.status == "FINISHED"
    for model in MODELS:
        saved = pd.read_json(
            real_run.path / f"data/08_reporting/{model}/metrics.json", typ="series"
        )
        assert run.data.metrics[f"{model}.final.test_acc"] == pytest.approx(
            saved["test_acc"]
        )
        assert saved["test_acc"] > 0.7
