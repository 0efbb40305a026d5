"""A run sent to a shared MLflow tracking server backed by PostgreSQL."""

import time

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient

from fashion_mnist.schemas import PIXEL_COLUMNS
from tests.support.project import SYNTHETIC_TRAINING, make_synthetic_project
from tests.support.runs import (
    assert_complete_record,
    input_contexts,
    logged_models,
    runs_of_this_process,
)


def test_a_run_sent_to_a_postgresql_backed_server_records_everything(
    tracking_server, tmp_path
):
    project = make_synthetic_project(tmp_path / "project")
    started = int(time.time() * 1000)

    project.run(env={"MLFLOW_TRACKING_URI": tracking_server})

    client = MlflowClient(tracking_server)
    # The server lives for the whole session and holds other tests' runs.
    (run,) = runs_of_this_process(client, started)
    assert run.info.run_name == "defaults __default__"
    assert run.info.status == "FINISHED"
    assert_complete_record(
        client,
        run,
        epochs=SYNTHETIC_TRAINING["num_epochs"],
        params={"training.lr": str(SYNTHETIC_TRAINING["lr"])},
        tags={"device": "cpu"},
    )
    assert not (project.path / "mlflow.db").exists()

    mlflow.set_tracking_uri(tracking_server)
    test = pd.read_parquet(project.path / "data/03_primary/fashion_mnist_test.parquet")
    pixels = test[PIXEL_COLUMNS].to_numpy(np.uint8)
    expected = pd.read_parquet(
        project.path / "data/07_model_output/scratch/test_predictions.parquet"
    )["predicted"]
    logged = mlflow.pyfunc.load_model(
        logged_models(client, run)["scratch_model"].model_uri
    )
    np.testing.assert_array_equal(logged.predict(pixels)["class_index"], expected)
    champion = mlflow.pyfunc.load_model("models:/fashion_mnist_scratch@champion")
    assert champion.metadata.run_id == run.info.run_id
    np.testing.assert_array_equal(champion.predict(pixels)["class_index"], expected)
    version = client.get_model_version_by_alias("fashion_mnist_scratch", "champion")
    assert version.tags["mlflow_run_id"] == run.info.run_id
    # The evidence, on the server's store as on the embedded one: the model
    # card, the interval, the tables as dataset inputs, ranked logged models.
    acc = run.data.metrics["scratch.final.test_acc"]
    assert f"**Test accuracy {acc:.4f}**" in version.description
    assert version.tags["registration"] == "complete"
    assert float(version.tags["test_acc_ci_low"]) <= acc
    contexts = input_contexts(run)
    assert contexts == {
        "fashion_mnist_train": "training",
        "fashion_mnist_test": "evaluation",
    }
    ranked = client.search_logged_models(
        experiment_ids=[run.info.experiment_id],
        filter_string=f"source_run_id = '{run.info.run_id}'",
        order_by=[{"field_name": "metrics.test_acc", "ascending": False}],
    )
    assert {m.name for m in ranked} == {"scratch_model", "concise_model"}
