"""Throw-away copies of the project, run by a `kedro` process or by a session in this one."""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from mlflow import MlflowClient

from tests.support.processes import environment
from tests.support.synthetic import idx_bytes, make_images, training_params, write_gz

PROJECT_ROOT = Path(__file__).resolve().parents[2]
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
# What a run writes outside data/: its MLflow store, never copied between projects.
_RUN_RECORD = ("mlflow.db", "mlflow.db.lock", "mlruns")


@functools.cache
def empty_store() -> Path:
    """An embedded MLflow store with its tables made and no run, made once per process.

    Making the tables (MLflow's schema migrations) costs 2-6 s on these
    machines; a copy of this file costs milliseconds. Made in its own folder:
    its ``Default`` experiment keeps artifacts there, never in the tests'
    working folder.
    """
    folder = Path(tempfile.mkdtemp(prefix="fmnist-empty-store-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    with contextlib.chdir(folder):
        MlflowClient(f"sqlite:///{folder / 'mlflow.db'}").search_experiments()
    return folder / "mlflow.db"


def _add_store(project: Path, store: bool) -> None:
    if store:
        shutil.copyfile(empty_store(), project / "mlflow.db")


@contextlib.contextmanager
def inside(path: Path) -> Iterator[None]:
    """Work in ``path`` as a `kedro` process started there would, then put everything back.

    The working folder becomes ``path`` (the catalog's relative paths and the
    embedded store ``sqlite:///<project>/mlflow.db`` follow it); the test
    process's own MLflow store (``MLFLOW_TRACKING_URI``) is hidden; the
    environment and the signal handlers are restored after the block.
    MLflow's tracking URI stays where the run set it, as in a notebook that
    goes on (a next session ends an interrupted run in its own store); the
    ``isolated_mlflow`` fixture resets it after each test.
    """
    saved = dict(os.environ)
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    try:
        with contextlib.chdir(path):
            yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        for signum, handler in handlers.items():
            signal.signal(signum, handler)


@dataclass
class ProjectCopy:
    """A copy of the project's configuration in a temporary folder, run with kedro."""

    path: Path
    last_run: subprocess.CompletedProcess | None = None

    def kedro(
        self,
        *args: str,
        check: bool = True,
        env: dict[str, str | None] | None = None,
        timeout: float = 1200,
    ) -> subprocess.CompletedProcess:
        """Run `kedro ARGS` in a new process in the copy and return the finished process.

        For what only a process shows: its exit status, its output, signals.
        MLflow tracks into the copy's own `mlflow.db` unless `env` sets
        MLFLOW_TRACKING_URI.
        """
        result = subprocess.run(
            [sys.executable, "-m", "kedro", *args],
            check=False,
            cwd=self.path,
            env=environment(env),
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

    def run(
        self,
        runtime_params: dict[str, Any] | None = None,
        env: dict[str, str] | None = None,
        **run_args: Any,
    ) -> dict[str, Any]:
        """Run the copy in this process, as ``kedro run`` would (kedro-mlflow's test pattern).

        ``bootstrap_project``, ``KedroSession.create(runtime_params=...)``,
        ``session.run(**run_args)`` (``pipeline_names``, ``tags``, ``runner``,
        ``from_nodes`` ...), inside :func:`inside`, so the run tracks into the
        copy's own `mlflow.db` unless ``env`` sets MLFLOW_TRACKING_URI. An
        error of the run propagates; no import is paid again.

        Returns:
            What ``session.run`` returns: the pipeline's free outputs.
        """
        with inside(self.path):
            os.environ.update(env or {})
            bootstrap_project(self.path)
            with KedroSession.create(
                project_path=self.path, runtime_params=runtime_params
            ) as session:
                return session.run(**run_args)

    def copy(
        self, target: Path, layers: Iterable[str] = (), store: bool = False
    ) -> ProjectCopy:
        """A copy of this copy, holding the data ``layers`` (e.g. ``03_primary``) and no run.

        For a test that writes: a shared project stays as its fixture left it.
        With ``store``, the copy starts with an empty MLflow store (tables made,
        no experiment), where making the store is not what the test is about.
        """
        shutil.copytree(
            self.path,
            target,
            ignore=shutil.ignore_patterns("data", *_RUN_RECORD, "*.log"),
        )
        for layer in DATA_LAYERS:
            (target / "data" / layer).mkdir(parents=True)
        for layer in layers:
            shutil.copytree(
                self.path / "data" / layer, target / "data" / layer, dirs_exist_ok=True
            )
        _add_store(target, store)
        return ProjectCopy(target)


def make_project_copy(target: Path, store: bool = False) -> ProjectCopy:
    """Copy the project's configuration into `target`, with empty data layers.

    With ``store``, the copy starts with an empty MLflow store (tables made,
    no experiment), where making the store is not what the test is about.
    """
    target.mkdir(parents=True, exist_ok=True)
    for name in ["pyproject.toml", ".telemetry"]:
        shutil.copy2(PROJECT_ROOT / name, target / name)
    shutil.copytree(PROJECT_ROOT / "conf" / "base", target / "conf" / "base")
    # The project's logging, as a clone has it (plain lines, not Rich's).
    shutil.copy2(PROJECT_ROOT / "conf" / "logging.yml", target / "conf" / "logging.yml")
    shutil.copytree(
        PROJECT_ROOT / "src",
        target / "src",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
    )
    (target / "conf" / "local").mkdir(parents=True)
    for layer in DATA_LAYERS:
        (target / "data" / layer).mkdir(parents=True)
    _add_store(target, store)
    return ProjectCopy(target)


# Ten epochs, so that MLflow metric histories have ten steps per model.
SYNTHETIC_TRAINING = training_params(batch_size=32, num_epochs=10)
# Where a synthetic project keeps its four IDX files, relative to its root.
SYNTHETIC_IDX = "synthetic_idx"


def make_synthetic_project(target: Path, store: bool = False) -> ProjectCopy:
    """A project copy whose four IDX files are small synthetic look-alikes.

    `conf/local` points the four raw datasets at the synthetic files (with their
    own MD5s, no env var, no mirrors) and sets training values that suit them:
    400 training and 100 test images, learnt in ten epochs of a few milliseconds.
    ``store`` as for :func:`make_project_copy`.
    """
    project = make_project_copy(target, store)
    source = target / SYNTHETIC_IDX
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
                # Relative to the project: its copies find their own files.
                "local_dirs": [SYNTHETIC_IDX],
                "mirrors": [],
            }
    local = target / "conf" / "local"
    (local / "catalog.yml").write_text(yaml.safe_dump(catalog))
    (local / "parameters_training.yml").write_text(
        yaml.safe_dump({"training": SYNTHETIC_TRAINING})
    )
    return project
