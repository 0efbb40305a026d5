"""What one `kedro run` records in MLflow, read back with MlflowClient."""

import base64
import os
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import requests
from click.testing import CliRunner
from mlflow import MlflowClient

from fashion_mnist.params import MODELS
from fashion_mnist.schemas import PIXEL_COLUMNS
from fashion_mnist.tracking.gate import ThresholdGateError
from fashion_mnist.tracking.store import TrackingServerUnavailable, probe
from fashion_mnist.tracking.store import main as store_command
from tests.support.processes import environment
from tests.support.project import (
    PROJECT_ROOT,
    SYNTHETIC_TRAINING,
    inside,
    make_project_copy,
)
from tests.support.runs import (
    EVERY_ARTIFACT,
    artifacts,
    assert_complete_record,
    client_for,
    logged_models,
    run_named,
    runs,
)

DEFAULTS = "defaults __default__"


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
        # The model declares its input: a uint8 tensor of 784 pixels per image.
        (spec,) = pyfunc.metadata.get_input_schema().inputs
        assert (spec.type, spec.shape) == (np.dtype(np.uint8), (-1, 784))
        outputs = pyfunc.metadata.get_output_schema().input_names()
        assert outputs == ["class_index", *(f"proba_{k}" for k in range(10))]
        assert "integers 0-255" in pyfunc.metadata.metadata["input"]


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


PASSWORD = "s3cr3tpw"


def _with_password(url: str) -> str:
    return url.replace("http://", f"http://alice:{PASSWORD}@", 1)


def _files_holding(folder: Path, text: str) -> list[Path]:
    return [
        path
        for path in folder.rglob("*")
        if path.is_file() and text.encode() in path.read_bytes()
    ]


def test_a_tracking_uri_with_a_password_records_the_run_and_never_shows_the_password(
    tmp_path, synthetic_run, tracking_server, capfd, caplog
):
    project = synthetic_run.copy(tmp_path / "project", ("01_raw", "03_primary"))

    project.run(
        runtime_params={"training": {"num_epochs": 2}},
        pipeline_names=["training"],
        env={"MLFLOW_TRACKING_URI": _with_password(tracking_server)},
    )

    client = MlflowClient(tracking_server)
    run = client.get_run(mlflow.last_active_run().info.run_id)
    output = "".join(capfd.readouterr()) + caplog.text
    downloaded = tmp_path / "artifacts"
    client.download_artifacts(run.info.run_id, "", str(downloaded))
    for name, model in logged_models(client, run).items():
        mlflow.artifacts.download_artifacts(
            artifact_uri=model.artifact_location,
            dst_path=str(downloaded / name),
            tracking_uri=tracking_server,
        )
    assert run.info.status == "FINISHED"
    assert run.data.params["training.num_epochs"] == "2"
    assert {f"{m}_model" for m in MODELS} <= set(logged_models(client, run))
    assert "Mlflow run" in output, "the run's log was not captured"
    assert PASSWORD not in output
    assert not [k for k, v in run.data.tags.items() if PASSWORD in k + v]
    assert not [k for k, v in run.data.params.items() if PASSWORD in k + v]
    assert list(downloaded.rglob("MLmodel")), "no model artifact was downloaded"
    assert _files_holding(downloaded, PASSWORD) == []
    assert _files_holding(project.path, PASSWORD) == []


class _HealthBehindBasicAuth(BaseHTTPRequestHandler):
    """``/health`` answers 200 to alice's password only, as a proxy with Basic auth would."""

    expected = "Basic " + base64.b64encode(f"alice:{PASSWORD}".encode()).decode()

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        granted = self.headers.get("Authorization") == self.expected
        self.send_response(200 if granted else 401)
        self.end_headers()

    def log_message(self, *args) -> None:
        """Quiet: the test reads the probe's answer, not the server's log."""


def test_the_health_probe_sends_the_uri_password_as_mlflow_does_and_masks_it(
    monkeypatch,
):
    # The probe sets MLflow's variables for the process: restored after the test.
    for name in [
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES",
        "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR",
        "MLFLOW_HTTP_REQUEST_TIMEOUT",
        "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT",
    ]:
        monkeypatch.setenv(name, os.environ.get(name, ""))
        monkeypatch.delenv(name)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HealthBehindBasicAuth)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"
    try:
        probe(_with_password(url))
        # MLflow's client (requests) sends the URL's user and password the same way.
        library = requests.get(f"{_with_password(url)}/health", timeout=10)
        with pytest.raises(TrackingServerUnavailable) as excinfo:
            probe(url.replace("http://", "http://alice:wrong-pw@"))
    finally:
        server.shutdown()
        server.server_close()

    masked = url.replace("http://", "http://alice:***@")
    assert library.status_code == 200
    assert str(excinfo.value) == (
        f"The MLflow tracking server {masked} did not answer {masked}/health within "
        "10 s (HTTP 401 Unauthorized); nothing was run. Check the user and password "
        "in MLFLOW_TRACKING_URI (or MLFLOW_TRACKING_USERNAME and "
        "MLFLOW_TRACKING_PASSWORD)."
    )


def test_the_store_command_creates_the_store_that_make_serve_and_mlflow_ui_open(
    tmp_path,
):
    project = make_project_copy(tmp_path / "project")
    store = project.path / "mlflow.db"

    with inside(project.path):
        result = CliRunner().invoke(store_command, [])

    dry_runs = {
        target: subprocess.run(
            ["make", "--dry-run", "--directory", str(PROJECT_ROOT), target],
            capture_output=True,
            text=True,
            check=True,
            env=environment(),
        ).stdout.splitlines()
        for target in ["serve", "mlflow-ui"]
    }
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == (
        f"MLflow tracking store ready: sqlite:///{store}"
    )
    experiment = client_for(project.path).get_experiment_by_name("fashion_mnist")
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    for target, commands in dry_runs.items():
        first = next(
            i for i, c in enumerate(commands) if "fashion_mnist.tracking.store" in c
        )
        opens = [i for i, c in enumerate(commands) if "MLFLOW_TRACKING_URI" in c]
        opens += [i for i, c in enumerate(commands) if "kedro mlflow ui" in c]
        assert first < min(opens), f"make {target} opens the store before creating it"
