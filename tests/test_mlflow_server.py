"""The same runs, sent to a shared MLflow tracking server backed by PostgreSQL."""

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient

from fashion_mnist.schemas import PIXEL_COLUMNS
from tests.support.project import SYNTHETIC_TRAINING, make_synthetic_project
from tests.test_mlflow_tracking import _logged_models, _runs, assert_complete_run


def test_a_run_sent_to_a_postgresql_backed_server_records_everything(
    tracking_server, tmp_path
):
    project = make_synthetic_project(tmp_path / "project")

    project.kedro("run", env={"MLFLOW_TRACKING_URI": tracking_server})

    client = MlflowClient(tracking_server)
    # The server is shared with the sweep test: count this run only.
    runs = [r for r in _runs(client) if r.info.run_name == "__default__ defaults"]
    assert len(runs) == 1
    assert runs[0].info.status == "FINISHED"
    assert_complete_run(client, runs[0], epochs=SYNTHETIC_TRAINING["num_epochs"])
    assert not (project.path / "mlflow.db").exists()

    mlflow.set_tracking_uri(tracking_server)
    test = pd.read_parquet(project.path / "data/03_primary/fashion_mnist_test.parquet")
    model = mlflow.pyfunc.load_model(
        _logged_models(client, runs[0])["scratch_model"].model_uri
    )
    predicted = model.predict(test[PIXEL_COLUMNS].to_numpy(np.uint8))
    expected = pd.read_parquet(
        project.path / "data/07_model_output/scratch/test_predictions.parquet"
    )
    np.testing.assert_array_equal(predicted["class_index"], expected["predicted"])
    champion = mlflow.pyfunc.load_model("models:/fashion_mnist_scratch@champion")
    assert champion.metadata.run_id == runs[0].info.run_id
    np.testing.assert_array_equal(
        champion.predict(test[PIXEL_COLUMNS].to_numpy(np.uint8))["class_index"],
        expected["predicted"],
    )
    version = client.get_model_version_by_alias("fashion_mnist_scratch", "champion")
    assert version.tags["mlflow_run_id"] == runs[0].info.run_id
