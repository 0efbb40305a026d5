"""A tracking store that is locked or read-only, a server that never answers or is lost.

Each is said in one sentence, with a true record and nothing lost. A server
lost mid-run, or after the startup probe and before the first node, is a
relay (tests/support/relay.py) in front of a real `mlflow server`, cut as a
killed server would go; the URI holds a user and password. Each test works
in its own copy of the small synthetic project.
"""

from __future__ import annotations

import logging
import os
import sqlite3

import mlflow
import pytest
from click.testing import CliRunner
from kedro.framework.cli.cli import KedroCLI
from kedro.io import DatasetError
from mlflow import MlflowClient

from fashion_mnist.tracking.outage import KEPT_ENDS, TrackingServerLost
from fashion_mnist.tracking.store import TrackingServerUnavailable, store_problem
from tests.support.processes import refused_port, silent_server, stop
from tests.support.project import inside
from tests.support.relay import Relay
from tests.support.runs import (
    client_for,
    finish,
    runs,
    runs_of_this_process,
    start_kedro,
)

pytestmark = pytest.mark.slow

TABLES = ("01_raw", "03_primary")
PASSWORD = "s3cr3tpw"
CREATE_RUN = "/api/2.0/mlflow/runs/create"


def _run_cut_at(project, relay: Relay, held) -> tuple[int, str]:
    """A `kedro run` through the relay, which is cut once ``held`` holds a request."""
    uri = f"http://alice:{PASSWORD}@127.0.0.1:{relay.port}"
    process, log = start_kedro(project.path, "run", env={"MLFLOW_TRACKING_URI": uri})
    try:
        held.wait(timeout=300)
        relay.cut()
        return finish(process, log, timeout=300)
    finally:
        relay.cut()
        stop(process)


def test_a_tracking_server_that_never_answers_fails_the_run_before_any_node(
    tmp_path, synthetic_run
):
    project = synthetic_run.copy(tmp_path / "project")

    with silent_server() as server:
        with pytest.raises(TrackingServerUnavailable) as excinfo:
            project.run(
                env={
                    "MLFLOW_TRACKING_URI": server.url,
                    "FASHION_MNIST_TRACKING_TIMEOUT_S": "0.5",
                }
            )
        accepted = len(server.accepted)

    message = str(excinfo.value)
    assert f"The MLflow tracking server {server.url} did not answer" in message
    assert "within 0.5 s" in message
    assert "unset MLFLOW_TRACKING_URI" in message
    assert accepted, "the run never asked the server"
    assert not list((project.path / "data").rglob("*.parquet"))


def test_a_refused_tracking_server_fails_the_run_at_once(tmp_path, synthetic_run):
    project = synthetic_run.copy(tmp_path / "project")

    with refused_port() as port:
        uri = f"http://127.0.0.1:{port}"
        with pytest.raises(TrackingServerUnavailable) as excinfo:
            project.run(env={"MLFLOW_TRACKING_URI": uri})

    message = str(excinfo.value)
    assert f"The MLflow tracking server {uri} did not answer" in message
    assert "within 10 s (URLError: [Errno 111] Connection refused)" in message
    assert not list((project.path / "data").rglob("*.parquet"))


class _CutAtSecondEpoch(logging.Handler):
    """Cuts the relay once training logs its second epoch: the server dies mid-run."""

    def __init__(self, relay: Relay) -> None:
        super().__init__()
        self.relay = relay
        self.trained: set[str] = set()  # the models that logged an epoch

    def emit(self, record: logging.LogRecord) -> None:
        model, _, rest = record.getMessage().partition(": epoch ")
        if rest:
            self.trained.add(model)
        if rest.startswith("2/"):
            self.relay.cut()


def test_a_tracking_server_lost_mid_run_stops_it_in_one_sentence_and_the_next_run_ends_it_failed(
    tmp_path, synthetic_run, tracking_server
):
    project = synthetic_run.copy(tmp_path / "project", TABLES)
    relay = Relay(tracking_server)
    uri = f"http://alice:{PASSWORD}@127.0.0.1:{relay.port}"
    training_log = logging.getLogger("fashion_mnist.softmax")
    cutter = _CutAtSecondEpoch(relay)
    training_log.addHandler(cutter)
    try:
        with pytest.raises(TrackingServerLost) as excinfo:
            project.run(
                runtime_params={"training": {"num_epochs": 3}},
                pipeline_names=["training"],
                env={"MLFLOW_TRACKING_URI": uri},
            )
    finally:
        training_log.removeHandler(cutter)
        relay.cut()
    (kept,) = (project.path / KEPT_ENDS).glob("*.json")
    client = MlflowClient(tracking_server)
    status_while_lost = client.get_run(kept.stem).info.status

    project.run(
        pipeline_names=["ingestion"], env={"MLFLOW_TRACKING_URI": tracking_server}
    )

    lost = client.get_run(kept.stem)
    message = str(excinfo.value)
    assert message == (
        f"The MLflow tracking server http://alice:***@127.0.0.1:{relay.port} stopped "
        "answering during the run ([Errno 111] Connection refused); the run stopped "
        f"at its first failed request, and the next run that reaches the server "
        f"ends run {kept.stem} FAILED with this reason (kept in {kept})."
    )
    assert excinfo.value.__cause__ is None and excinfo.value.__suppress_context__
    # It stopped at the first failed request: the other model never trained.
    assert len(cutter.trained) == 1, cutter.trained
    assert mlflow.active_run() is None
    assert status_while_lost == "RUNNING"
    assert lost.info.status == "FAILED"
    assert lost.data.tags["fashion_mnist.end_reason"].startswith(
        "the MLflow tracking server stopped answering during the run "
        "([Errno 111] Connection refused); recorded by run "
    )
    assert not kept.exists()


def test_a_server_lost_before_the_run_exists_is_one_sentence_and_nothing_runs(
    tmp_path, synthetic_run, tracking_server
):
    project = synthetic_run.copy(tmp_path / "project", ("01_raw",))
    relay = Relay(tracking_server)
    probe = relay.watch("GET", "/health")
    after_probe = relay.hold(matches=lambda request: request.path != "/health")

    rc, output = _run_cut_at(project, relay, after_probe)

    first = after_probe.requests[0]
    assert probe.seen.is_set() and relay.requests[0].path == "/health"
    assert rc == 1, output[-4000:]
    assert output.rstrip().splitlines()[-1] == (
        f"Error: The MLflow tracking server http://alice:***@127.0.0.1:{relay.port} "
        "stopped answering as the run was starting ([Errno 111] Connection refused); "
        "nothing was run. Start the server again and rerun, or unset "
        "MLFLOW_TRACKING_URI to track into the project's embedded store."
    ), f"{first}\n{output[-4000:]}"
    assert "Traceback" not in output
    assert PASSWORD not in output
    # Only the probe reached the server (the held request was dropped): no run.
    assert [r.path for r in relay.requests] == ["/health", first.path]
    assert not list((project.path / "data").rglob("*.parquet"))
    assert not (project.path / KEPT_ENDS).exists()


def test_a_server_lost_once_the_run_exists_is_one_sentence_and_the_next_run_ends_it_failed(
    tmp_path, synthetic_run, tracking_server
):
    project = synthetic_run.copy(tmp_path / "project", TABLES)
    relay = Relay(tracking_server)
    created = relay.watch("POST", CREATE_RUN)
    after_create = relay.hold(matches=lambda request: created.seen.is_set())
    client = MlflowClient(tracking_server)

    rc, output = _run_cut_at(project, relay, after_create)
    (kept,) = (project.path / KEPT_ENDS).glob("*.json")
    status_while_lost = client.get_run(kept.stem).info.status
    was_kept = kept.exists()
    project.run(
        pipeline_names=["ingestion"], env={"MLFLOW_TRACKING_URI": tracking_server}
    )

    lost = client.get_run(kept.stem)
    # The run after it, in this process (the session's server holds other tests' runs).
    (after,) = runs_of_this_process(client, lost.info.start_time + 1)
    assert rc == 1, output[-4000:]
    assert output.rstrip().splitlines()[-1] == (
        f"Error: The MLflow tracking server http://alice:***@127.0.0.1:{relay.port} "
        "stopped answering as the run was starting ([Errno 111] Connection refused); "
        "no node ran, and the next run that reaches the server ends run "
        f"{lost.info.run_id} FAILED with this reason (kept in {kept})."
    ), f"{after_create.requests[0]}\n{output[-4000:]}"
    assert "Traceback" not in output
    assert PASSWORD not in output
    assert "Running node" not in output
    assert status_while_lost == "RUNNING" and was_kept
    assert lost.info.status == "FAILED"
    assert lost.data.tags["fashion_mnist.end_reason"] == (
        "the MLflow tracking server stopped answering as the run was starting "
        f"([Errno 111] Connection refused); recorded by run {after.info.run_id}"
    )
    assert after.info.status == "FINISHED"
    assert not kept.exists()
    # Nothing the failed start found was lost.
    assert len(list((project.path / "data/03_primary").glob("*.parquet"))) == 2


def test_a_locked_store_is_named_in_one_sentence_and_nothing_runs(
    tmp_path, synthetic_run
):
    project = synthetic_run.copy(tmp_path / "project", TABLES, store=True)
    store = project.path / "mlflow.db"
    # An exclusive SQLite lock stops every other connection, root's included.
    holder = sqlite3.connect(store, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        # Kedro's own CLI in this process: its exit status and its stderr.
        with inside(project.path):
            os.environ["FASHION_MNIST_STORE_TIMEOUT_S"] = "0.5"
            result = CliRunner().invoke(KedroCLI(project.path), ["run"])
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    output = result.stdout + result.stderr
    assert result.exit_code == 1, output[-3000:]
    # click printed the error and exited: no exception escaped, no traceback.
    assert isinstance(result.exception, SystemExit)
    assert result.stderr.strip().splitlines()[-1] == (
        f"Error: The MLflow store {store} is locked by another process (SQLite: "
        f"database is locked, waited 0.5 s); nothing was run. Close the program "
        f"that holds it (`fuser {store}` names it: an sqlite3 shell, a database "
        "browser, a stuck process) and run again."
    )
    assert "Traceback" not in output
    assert "OperationalError" not in output
    assert runs(client_for(project.path)) == []


def test_a_read_only_store_is_named_in_one_sentence_with_what_to_do(tmp_path):
    store = tmp_path / "mlflow.db"
    sqlite3.connect(store).close()
    # Root writes through chmod; a read-only connection meets SQLite's own refusal.
    read_only = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    with pytest.raises(sqlite3.OperationalError) as excinfo:
        read_only.execute("PRAGMA user_version = 1")
    read_only.close()

    problem = store_problem(store, DatasetError("wrapped"), 10.0)
    wrapped = DatasetError("could not start the run")
    wrapped.__cause__ = excinfo.value

    assert problem is None
    assert store_problem(store, wrapped, 10.0) == (
        f"The MLflow store {store} cannot be written by this user (attempt to write "
        "a readonly database); nothing was run. Make the file and its folder "
        f"writable (chmod u+w {store} {tmp_path}), or track elsewhere with "
        "MLFLOW_TRACKING_URI."
    )
