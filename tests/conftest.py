"""Shared fixtures: telemetry off, headless plots, and a throw-away project copy."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pytest
import yaml

from tests.synthetic import idx_bytes, make_images, training_params, write_gz

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DATA_LAYERS = [
    "01_raw",
    "02_intermediate",
    "03_primary",
    "04_feature",
    "05_model_input",
    "06_models",
    "07_model_output",
    "08_reporting",
]


@dataclass
class ProjectCopy:
    """A copy of the project's configuration in a temporary folder, run with kedro."""

    path: Path
    last_run: subprocess.CompletedProcess | None = None
    first_outputs: Path | None = None

    @staticmethod
    def environment() -> dict[str, str]:
        """This process's environment, less its MLflow store, with telemetry off."""
        env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "1", "COLUMNS": "200"}
        env.pop("MLFLOW_TRACKING_URI", None)
        return env

    def kedro(
        self,
        *args: str,
        check: bool = True,
        env: dict[str, str] | None = None,
        timeout: float = 1200,
    ) -> subprocess.CompletedProcess:
        """Run `kedro ARGS` in the copy and return the finished process.

        MLflow tracks into the copy's own `mlflow.db` unless `env` sets
        MLFLOW_TRACKING_URI.
        """
        env = {**self.environment(), **(env or {})}
        result = subprocess.run(
            [sys.executable, "-m", "kedro", *args],
            check=False,
            cwd=self.path,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"kedro {' '.join(args)} exited {result.returncode}\n"
                f"--- stdout\n{result.stdout[-6000:]}\n--- stderr\n{result.stderr[-6000:]}"
            )
        return result


def make_project_copy(target: Path) -> ProjectCopy:
    """Copy the project's configuration into `target`, with empty data layers."""
    target.mkdir(parents=True, exist_ok=True)
    for name in ["pyproject.toml", ".telemetry"]:
        shutil.copy2(PROJECT_ROOT / name, target / name)
    shutil.copytree(PROJECT_ROOT / "conf" / "base", target / "conf" / "base")
    shutil.copytree(
        PROJECT_ROOT / "src",
        target / "src",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
    )
    (target / "conf" / "local").mkdir(parents=True)
    for layer in DATA_LAYERS:
        (target / "data" / layer).mkdir(parents=True)
    return ProjectCopy(target)


@pytest.fixture(autouse=True)
def isolated_mlflow(tmp_path, monkeypatch):
    """Point in-process MLflow at a throw-away store and end every run a test left open."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    yield uri
    while mlflow.active_run():
        mlflow.end_run()
    mlflow.set_tracking_uri(None)


@pytest.fixture(scope="session")
def real_project(tmp_path_factory) -> ProjectCopy:
    """A project copy whose ingestion pipeline ran on the real Fashion-MNIST files.

    The files come from where a user's run would find them ($FASHION_MNIST_DIR,
    Debian's dataset-fashion-mnist, or the mirrors); a missing data set fails
    loudly with the dataset's own listing error.
    """
    project = make_project_copy(tmp_path_factory.mktemp("real") / "project")
    project.kedro("run", "--pipelines", "ingestion")
    return project


@pytest.fixture(scope="session")
def real_run(real_project) -> ProjectCopy:
    """The same project copy after a full default `kedro run` on the real data."""
    project = real_project
    project.last_run = project.kedro("run")
    return project


# Ten epochs, so that MLflow metric histories have ten steps per model.
SYNTHETIC_TRAINING = training_params(batch_size=32, num_epochs=10)


def make_synthetic_project(target: Path) -> ProjectCopy:
    """A project copy whose four IDX files are small synthetic look-alikes.

    `conf/local` points the four raw datasets at the synthetic files (with their
    own MD5s, no env var, no mirrors) and sets training values that suit them.
    """
    project = make_project_copy(target)
    source = target / "synthetic_idx"
    catalog = {}
    for split, prefix, n_per_class in [("train", "train", 40), ("test", "t10k", 10)]:
        images, labels = make_images(n_per_class, seed=len(split))
        for kind, array, dims in [("images", images, 3), ("labels", labels, 1)]:
            file = f"{prefix}-{kind}-idx{dims}-ubyte.gz"
            catalog[f"{split}_{kind}_idx"] = {
                "type": "fashion_mnist.datasets.VerifiedIDXDataset",
                "file": file,
                "md5": write_gz(source / file, idx_bytes(array)),
                "path": "data/01_raw",
                "env_var": None,
                "local_dirs": [str(source)],
                "mirrors": [],
            }
    local = target / "conf" / "local"
    (local / "catalog.yml").write_text(yaml.safe_dump(catalog))
    (local / "parameters_training.yml").write_text(
        yaml.safe_dump({"training": SYNTHETIC_TRAINING})
    )
    return project


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


@pytest.fixture(scope="session")
def postgres():
    """A throw-away PostgreSQL cluster on 127.0.0.1 (Debian's postgresql package).

    Yields the server's URL without a database: ``/postgres`` holds the MLflow
    tracking server's tables, ``/optuna`` is free for Optuna studies.
    """
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
    subprocess.run(
        [
            *as_user,
            bindir / "createdb",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-U",
            "postgres",
            "optuna",
        ],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run(
            [*as_user, bindir / "pg_ctl", "-D", data, "-m", "fast", "-w", "stop"],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def tracking_server(postgres, tmp_path_factory):
    """`mlflow server` on a free loopback port, storing runs in PostgreSQL."""
    port = _free_port()
    artifacts = tmp_path_factory.mktemp("server-artifacts")
    log = artifacts.parent / "mlflow-server.log"
    process = subprocess.Popen(
        [
            sys.executable, "-m", "mlflow", "server",
            "--backend-store-uri", f"{postgres}/postgres",
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
