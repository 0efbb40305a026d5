"""After training: the registry's champion, `make serve`, and models that hold no pickle."""

from __future__ import annotations

import json
import pickle
import shutil
import subprocess
import sys
import urllib.error
import urllib.request

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from tests.support.processes import free_port, wait_for
from tests.support.project import PROJECT_ROOT, make_project_copy
from tests.support.runs import (
    client_for,
    copy_data,
    logged_models,
    runs,
    stop_process_group,
)

pytestmark = [pytest.mark.real_data, pytest.mark.slow]


def _post(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture(scope="module")
def served(real_run, tmp_path_factory):
    """`make serve` on the real run's project: the scratch model's champion."""
    shutil.copy2(PROJECT_ROOT / "Makefile", real_run.path / "Makefile")
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    process = subprocess.Popen(
        # -o install: use the project's .venv as it is, never reinstall from the copy.
        ["make", "-o", "install", "serve", f"VENV={PROJECT_ROOT / '.venv'}", f"SERVE_PORT={port}"],
        cwd=real_run.path,
        env=real_run.environment(),
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        wait_for(f"http://127.0.0.1:{port}/ping", process, log, timeout=180)
        yield f"http://127.0.0.1:{port}/invocations"
    finally:
        stop_process_group(process)


@pytest.fixture(scope="module")
def test_table(real_run) -> pd.DataFrame:
    return pd.read_parquet(real_run.path / "data/03_primary/fashion_mnist_test.parquet")


def test_make_serve_answers_for_all_10000_test_images_as_the_evaluation_scored_them(
    served, test_table, real_run
):
    pixels = test_table.iloc[:, 1:].to_numpy()
    predicted = []
    for batch in np.array_split(pixels, 4):
        status, answer = _post(served, {"inputs": batch.tolist()})
        assert status == 200
        predicted += [row["class_index"] for row in answer["predictions"]]

    accuracy = float((np.array(predicted) == test_table["label"].to_numpy()).mean())
    metrics = json.loads(
        (real_run.path / "data/08_reporting/scratch/metrics.json").read_text()
    )
    assert len(predicted) == 10000
    assert accuracy == pytest.approx(metrics["test_acc"], abs=1e-12)


@pytest.mark.parametrize(
    ("transform", "expected"),
    [
        (lambda x: x.astype(np.int64), "ok"),
        (lambda x: x.reshape(len(x), 28, 28), "ok"),
        (lambda x: x / 255.0, "got floats in 0..1. Send the raw 0–255 pixel values"),
        (lambda x: x + 0.5, "got floats in 0.5..255.5"),
        (lambda x: x.astype(np.int64) + 300, "got values in 300..555"),
        (lambda x: x[:, :700], "got shape (3, 700)"),
    ],
    ids=["int64", "28x28", "floats-0-1", "non-integral", "out-of-range", "wrong-shape"],
)
def test_the_served_model_accepts_raw_pixels_and_refuses_the_rest_with_a_short_400(
    served, test_table, transform, expected
):
    pixels = test_table.iloc[:3, 1:].to_numpy()

    status, answer = _post(served, {"inputs": transform(pixels).tolist()})

    if expected == "ok":
        assert status == 200
        assert len(answer["predictions"]) == 3
    else:
        assert status == 400
        assert expected in answer["message"]
        assert len(json.dumps(answer)) < 1000


def test_a_run_registers_its_models_and_the_champion_moves_only_to_a_better_one(
    tmp_path, real_project
):
    project = make_project_copy(tmp_path / "project")
    copy_data(real_project.path, project.path, ("01_raw", "03_primary"))
    project.kedro("run", "--params", "training.lr=0.05")
    project.kedro("run")
    project.kedro("run", "--params", "training.lr=0.05")
    client = client_for(project.path)
    worse, better, worse_again = runs(client)

    for model in ["scratch", "concise"]:
        name = f"fashion_mnist_{model}"
        versions = {
            v.run_id: v for v in client.search_model_versions(f"name = '{name}'")
        }
        champion = client.get_model_version_by_alias(name, "champion")
        assert len(versions) == 3
        assert champion.run_id == better.info.run_id
        assert float(champion.tags["test_acc"]) == pytest.approx(
            better.data.metrics[f"{model}.final.test_acc"]
        )
        assert champion.tags["git_commit"] == better.data.tags["git_commit"]
        assert float(versions[worse_again.info.run_id].tags["test_acc"]) < float(
            champion.tags["test_acc"]
        )


def test_a_run_failing_its_gate_registers_nothing(tmp_path, real_project):
    project = make_project_copy(tmp_path / "project")
    copy_data(real_project.path, project.path, ("01_raw", "03_primary"))

    project.kedro(
        "run",
        "--params",
        "training.num_epochs=1,training.lr=0.001,evaluation.on_failure=warn",
    )

    assert (
        MlflowClient(client_for(project.path).tracking_uri).search_registered_models()
        == []
    )


class _Payload:
    """Unpickling it would create a marker file: proof that code ran."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


_LOAD = """
import sys, mlflow
mlflow.set_tracking_uri(sys.argv[1])
try:
    mlflow.pyfunc.load_model(sys.argv[2])
except Exception as error:
    print("refused:", type(error).__name__, str(error)[:300])
"""


def test_a_tampered_model_artifact_runs_no_code_on_load(real_run, tmp_path):
    project = make_project_copy(tmp_path / "project")
    shutil.copy2(real_run.path / "mlflow.db", project.path / "mlflow.db")
    client = client_for(project.path)
    (run,) = [r for r in runs(client) if r.info.run_name == "__default__ defaults"]
    model = logged_models(client, run)["scratch_model"]
    folder = tmp_path / "model"
    shutil.copytree(model.artifact_location.removeprefix("file://"), folder)
    files = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    marker = tmp_path / "code-ran"
    (folder / "artifacts/model.safetensors").write_bytes(
        pickle.dumps(_Payload(str(marker)))
    )

    result = subprocess.run(
        [sys.executable, "-c", _LOAD, client.tracking_uri, str(folder)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert not [f for f in files if f.endswith((".pkl", ".pickle", ".cloudpickle"))]
    assert (
        "python_model" not in (folder / "MLmodel").read_text().split("python_model:")[0]
    )
    assert "refused:" in result.stdout, result.stdout + result.stderr[-2000:]
    assert "is unreadable" in result.stdout
    assert not marker.exists()
