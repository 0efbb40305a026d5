"""Shared fixtures: telemetry off, headless plots, and a throw-away project copy.

The helpers these fixtures call, and that tests import, live in `tests.support`.
"""

from __future__ import annotations

import os

import mlflow
import pytest

from tests.support.mlflow_server import start_tracking_server
from tests.support.postgres import PostgresCluster
from tests.support.project import ProjectCopy, make_project_copy

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "1")
os.environ.setdefault("MPLBACKEND", "Agg")


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
    """`mlflow server` on a free loopback port, storing runs in PostgreSQL."""
    artifacts = tmp_path_factory.mktemp("server-artifacts")
    server = start_tracking_server(
        f"{postgres}/postgres", artifacts, artifacts.parent / "mlflow-server.log"
    )
    try:
        yield server.url
    finally:
        server.stop()
