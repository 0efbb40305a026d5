"""Logged models: they hold no pickle, declare their input, ship only the code they import.

Read from the shared runs' MLflow record (copied before anything is changed);
a run logs them without progress bars. Serving the champion is proven in
tests/test_serving.py.
"""

from __future__ import annotations

import json
import pickle
import shutil
import subprocess
import sys

import mlflow
import numpy as np
import pytest

from fashion_mnist.datasets.mlflow_model_dataset import model_code_files
from tests.support.runs import client_for, logged_models, run_named

pytestmark = pytest.mark.slow


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
    run = run_named(client, "defaults __default__")
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


_LOAD_ELSEWHERE = """
import json, sys, warnings
import numpy as np, mlflow
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    model = mlflow.pyfunc.load_model(sys.argv[1])
    predicted = model.predict(np.zeros((2, 784), np.uint8))
import fashion_mnist
print(json.dumps({
    "warnings": [str(w.message)[:200] for w in caught],
    "package": fashion_mnist.__file__,
    "predicted": predicted["class_index"].tolist(),
}))
"""


def test_a_logged_model_declares_its_input_and_ships_only_the_code_it_imports(
    synthetic_run, tmp_path
):
    client = client_for(synthetic_run.path)
    mlflow.set_tracking_uri(client.tracking_uri)
    run = run_named(client, "defaults __default__")
    model = logged_models(client, run)["scratch_model"]
    folder = tmp_path / "model"
    shutil.copytree(model.artifact_location.removeprefix("file://"), folder)

    signature = mlflow.models.get_model_info(model.model_uri).signature
    shipped = sorted(
        p.relative_to(folder / "code").as_posix()
        for p in (folder / "code").rglob("*.py")
    )
    # From another folder, in a fresh process: the package comes from the model.
    result = subprocess.run(
        [sys.executable, "-c", _LOAD_ELSEWHERE, str(folder)],
        capture_output=True, text=True, timeout=300, check=False, cwd=tmp_path,
    )  # fmt: skip

    spec = signature.inputs.inputs[0]
    assert (spec.type, spec.shape) == (np.dtype(np.uint8), (-1, 784))
    assert shipped == [p.as_posix() for p in model_code_files()]
    assert "fashion_mnist/serving/model.py" in shipped
    assert not [p for p in shipped if "/pipelines/" in p or "/datasets/" in p]
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = json.loads(result.stdout.splitlines()[-1])
    assert loaded["warnings"] == []
    assert "Add type hints" not in result.stderr
    assert loaded["package"].startswith(str(folder / "code"))
    assert len(loaded["predicted"]) == 2


@pytest.mark.real_data
def test_a_run_logs_its_models_without_progress_bars(real_run):
    output = real_run.last_run.stdout + real_run.last_run.stderr

    assert "Logged MLflow model 'scratch_model'" in output
    assert "Downloading artifacts" not in output
