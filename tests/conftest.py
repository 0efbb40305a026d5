"""Shared fixtures: telemetry off, headless plots, MLflow isolated, shared project copies.

The session-scoped projects are read-only: a test that writes copies one
(``ProjectCopy.copy``) and finds its runs by name, never as "the last run".
The helpers these fixtures call, and that tests import, live in `tests.support`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile

import mlflow
import pytest
from mlflow import MlflowClient

from tests.support.mlflow_server import start_tracking_server
from tests.support.postgres import PostgresCluster
from tests.support.project import (
    ProjectCopy,
    empty_store,
    make_project_copy,
    make_synthetic_project,
)

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "1")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MPLBACKEND", "Agg")
# One torch (OpenMP) thread in this process and its children, set before torch
# starts: on these 2-core machines a test's processes run side by side, and a
# two-thread pool then waits on a busy core at every small op (260 synthetic
# steps: 0.04 s on one thread, 0.3-11 s on two).
os.environ.setdefault("OMP_NUM_THREADS", "1")
# Throw-away projects, stores and clusters live in RAM where the machine has a
# tmpfs: every MLflow metric is an SQLite commit, and a commit's fsync takes
# about 21 ms on this disk against 0.13 ms in /dev/shm (a kedro run makes ~200).
# Durability is not what these tests are about. TMPDIR carries it to the
# `kedro` processes the tests start; an explicit TMPDIR or --basetemp wins.
# (A container's default /dev/shm of 64 MB is too small: the real-data projects
# need a few hundred MB.)
_RAM = "/dev/shm"
if (
    "TMPDIR" not in os.environ
    and os.access(_RAM, os.W_OK)
    and shutil.disk_usage(_RAM).free > 4 * 2**30
):
    os.environ["TMPDIR"] = tempfile.tempdir = _RAM


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


@pytest.fixture
def mlflow_store(isolated_mlflow, tmp_path) -> str:
    """The isolated store with its tables made: a copy of one empty store, no migrations.

    Its client is made in ``tmp_path``: an experiment a test creates keeps its
    artifacts under ``tmp_path/mlruns``, never in ./mlruns of the working folder.
    """
    shutil.copyfile(empty_store(), tmp_path / "mlflow.db")
    with contextlib.chdir(tmp_path):
        MlflowClient(isolated_mlflow)
    return isolated_mlflow


@pytest.fixture(scope="session")
def synthetic_run(tmp_path_factory) -> ProjectCopy:
    """A synthetic project after one default run in this process (read only).

    Its store holds the run ``defaults __default__``; ``data/`` holds every
    output. A test that writes takes ``synthetic_run.copy(tmp_path / ...)``.
    """
    project = make_synthetic_project(
        tmp_path_factory.mktemp("synthetic") / "project", store=True
    )
    project.run()
    return project


@pytest.fixture(scope="session")
def real_project(tmp_path_factory) -> ProjectCopy:
    """A project copy whose ingestion pipeline ran on the real Fashion-MNIST files.

    The files come from where a user's run would find them ($FASHION_MNIST_DIR,
    Debian's dataset-fashion-mnist, or the mirrors); a missing data set fails
    loudly with the dataset's own listing error. Ingested in this process:
    only the tables are the point.
    """
    project = make_project_copy(tmp_path_factory.mktemp("real") / "project", store=True)
    project.run(pipeline_names=["ingestion"])
    return project


@pytest.fixture(scope="session")
def real_run(real_project) -> ProjectCopy:
    """The same project copy after a full default `kedro run` process on the real data.

    ``last_run`` holds the process's exit status and output.
    """
    project = real_project
    project.last_run = project.kedro("run")
    return project


@pytest.fixture(scope="session")
def postgres():
    """A throw-away PostgreSQL cluster on 127.0.0.1 (Debian's postgresql package).

    Yields the server's URL without a database: ``/postgres`` holds the MLflow
    tracking server's tables, ``/optuna`` is free for Optuna studies.
    """
    cluster = PostgresCluster.start()
    try:
        yield cluster.url
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def tracking_server(postgres, tmp_path_factory):
    """`mlflow server` on a loopback port from the OS, storing runs in PostgreSQL."""
    artifacts = tmp_path_factory.mktemp("server-artifacts")
    server = start_tracking_server(
        f"{postgres}/postgres", artifacts, artifacts.parent / "mlflow-server.log"
    )
    try:
        yield server.url
    finally:
        server.stop()
