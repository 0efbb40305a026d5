"""The same runs, sent to a shared MLflow tracking server backed by PostgreSQL."""

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from fashion_mnist.tables import PIXEL_COLUMNS
from tests.conftest import SYNTHETIC_TRAINING, make_synthetic_project
from tests.test_mlflow_tracking import _logged_models, _runs, assert_complete_run


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(
    url: str, process: subprocess.Popen, log: Path, timeout: float = 120
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"mlflow server exited with {process.returncode}:\n{log.read_text()[-3000:]}"
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def postgres():
    """A throw-away PostgreSQL cluster on 127.0.0.1 (Debian's postgresql package)."""
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not bins:
        raise RuntimeError(
            "PostgreSQL is not installed: apt-get install -y postgresql (.ci/run does)"
        )
    bindir = Path(bins[-1]).parent
    root = Path(tempfile.mkdtemp(prefix="fmnist-pg-"))
    data = root / "data"
    # PostgreSQL refuses to run as root: run it as the postgres user then.
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_user:
        shutil.chown(root, "postgres")
    port = _free_port()
    subprocess.run(
        [*as_user, bindir / "initdb", "-D", data, "-A", "trust", "-U", "postgres"],
        check=True,
        capture_output=True,
    )
    options = (
        f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={root}"
    )
    subprocess.run(
        [
            *as_user,
            bindir / "pg_ctl",
            "-D",
            data,
            "-o",
            options,
            "-l",
            root / "log",
            "-w",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*as_user, bindir / "pg_ctl", "-D", data, "-m", "fast", "-w", "stop"],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def tracking_server(postgres, tmp_path_factory):
    """`mlflow server` on a free loopback port, storing runs in PostgreSQL."""
    port = _free_port()
    artifacts = tmp_path_factory.mktemp("server-artifacts")
    log = artifacts.parent / "mlflow-server.log"
    process = subprocess.Popen(
        [
            sys.executable, "-m", "mlflow", "server",
            "--backend-store-uri", postgres,
            "--artifacts-destination", str(artifacts),
            "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        ],
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(f"{url}/health", process, log)
        yield url
    finally:
        _stop(process)


def test_a_run_sent_to_a_postgresql_backed_server_records_everything(
    tracking_server, tmp_path
):
    project = make_synthetic_project(tmp_path / "project")

    project.kedro("run", env={"MLFLOW_TRACKING_URI": tracking_server})

    client = MlflowClient(tracking_server)
    runs = _runs(client)
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
