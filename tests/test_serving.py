"""`make serve` on the real run's champion, and logged models that hold no pickle.

How a run registers its models and moves the champion is proven on small
synthetic runs in tests/pipelines/registry/test_pipeline.py.
"""

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

from tests.support.processes import environment, free_port, stop, wait_for
from tests.support.project import PROJECT_ROOT
from tests.support.runs import client_for, logged_models, run_named

pytestmark = pytest.mark.slow


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
    """`make serve` in the real run's project (read only): the scratch model's champion."""
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    process = subprocess.Popen(
        # The project's Makefile, run in the copy (-C); -o install: use the
        # project's .venv as it is, never reinstall from the copy.
        ["make", "-C", str(real_run.path), "-f", str(PROJECT_ROOT / "Makefile"),
         "-o", "install", "serve", f"VENV={PROJECT_ROOT / '.venv'}", f"SERVE_PORT={port}"],
        env=environment(),
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        wait_for(f"http://127.0.0.1:{port}/ping", process, log, timeout=180)
        yield f"http://127.0.0.1:{port}/invocations"
    finally:
        stop(process)


@pytest.fixture(scope="module")
def test_table(real_run) -> pd.DataFrame:
    return pd.read_parquet(real_run.path / "data/03_primary/fashion_mnist_test.parquet")


@pytest.mark.real_data
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


@pytest.mark.real_data
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


def test_a_tampered_model_artifact_runs_no_code_on_load(synthetic_run, tmp_path):
    client = client_for(synthetic_run.path)
    run = run_named(client, "__default__ defaults")
    model = logged_models(client, run)["scratch_model"]
    # A copy of the logged model: the shared run stays as it was.
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
