"""Fault tests: the MLflow record of a `kedro run` stays true however the run goes.

Real `kedro` processes where the process is the point (two at once, a signal,
`kill -9`, an exit status); a session in this process for the rest (another
runner, a partial run, a dead tracking server, a live notebook). Each test
works in its own copy of the small synthetic project, or reads one that a
fixture made, and finds its runs by name. None needs the real data: what a
record holds does not depend on it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time

import mlflow
import pandas as pd
import pytest
from click.testing import CliRunner
from kedro.framework.cli.cli import KedroCLI
from kedro.io import DatasetError
from kedro.runner import SequentialRunner, ThreadRunner
from matplotlib.image import imread
from mlflow import MlflowClient

from fashion_mnist.datasets import SoftmaxModelDataset
from fashion_mnist.params import MODELS
from fashion_mnist.schemas import LABEL_COLUMN, PIXEL_COLUMNS
from fashion_mnist.tracking.outage import KEPT_ENDS, TrackingServerLost
from fashion_mnist.tracking.runner_check import UnsupportedRunnerError
from fashion_mnist.tracking.store import TrackingServerUnavailable, store_problem
from tests.support.processes import (
    environment,
    refused_port,
    silent_server,
    stop,
    wait_for_text,
)
from tests.support.project import (
    SYNTHETIC_TRAINING,
    ProjectCopy,
    inside,
    make_project_copy,
)
from tests.support.runs import (
    artifact_table,
    artifact_text,
    assert_complete_record,
    client_for,
    finish,
    logged_models,
    run_named,
    runs,
    start_kedro,
)
from tests.support.synthetic import make_table

pytestmark = pytest.mark.slow

EPOCHS = SYNTHETIC_TRAINING["num_epochs"]
TABLES = ("01_raw", "03_primary")
# Enough epochs of the synthetic data to outlive any signal the test sends.
ENDLESS = 100_000
FINALS = ["train_loss", "train_acc", "test_loss", "test_acc"]


def _final_metrics(run) -> dict[str, float]:
    return {
        f"{m}.final.{k}": run.data.metrics[f"{m}.final.{k}"]
        for m in MODELS
        for k in FINALS
    }


def _model_accuracy(client, run, test: pd.DataFrame) -> dict[str, float]:
    """Each logged model's accuracy on the test table, loaded back through pyfunc."""
    mlflow.set_tracking_uri(client.tracking_uri)
    images = test[PIXEL_COLUMNS].to_numpy()
    accuracy = {}
    for name, model in logged_models(client, run).items():
        predicted = mlflow.pyfunc.load_model(model.model_uri).predict(images)
        accuracy[name] = float(
            (
                predicted["class_index"].to_numpy() == test[LABEL_COLUMN].to_numpy()
            ).mean()
        )
    return accuracy


@pytest.fixture(scope="module")
def runs_at_once(tmp_path_factory, synthetic_run) -> tuple[ProjectCopy, list[str]]:
    """Two `kedro run` processes started together in a copy with no tables and no store.

    Returns the copy and the two processes' output (the default run's first).
    """
    project = synthetic_run.copy(tmp_path_factory.mktemp("at-once") / "project")
    started = [
        start_kedro(project.path, "run"),
        start_kedro(project.path, "run", "--params", "training.lr=0.3"),
    ]
    results = [finish(process, log, timeout=300) for process, log in started]
    assert [rc for rc, _ in results] == [0, 0], "\n".join(o[-3000:] for _, o in results)
    return project, [output for _, output in results]


def test_two_runs_at_once_each_record_only_what_they_computed(
    runs_at_once, tmp_path, synthetic_run
):
    project, _ = runs_at_once
    alone = synthetic_run.copy(tmp_path / "alone", TABLES, store=True)
    alone.run(runtime_params={"training": {"lr": 0.3}})

    client = client_for(project.path)
    together = {
        "defaults": run_named(client, "defaults __default__"),
        "lr=0.3": run_named(client, "training.lr=0.3 __default__"),
    }
    references = {
        "defaults": (
            client_for(synthetic_run.path),
            run_named(client_for(synthetic_run.path), "defaults __default__"),
        ),
        "lr=0.3": (
            client_for(alone.path),
            run_named(client_for(alone.path), "training.lr=0.3 __default__"),
        ),
    }
    primary = project.path / "data/03_primary"
    test = pd.read_parquet(primary / "fashion_mnist_test.parquet")

    # The embedded store was created once by the two runs that started together.
    assert sorted(e.name for e in client.search_experiments()) == [
        "Default",
        "fashion_mnist",
    ]
    assert len(runs(client)) == 2
    assert len(pd.read_parquet(primary / "fashion_mnist_train.parquet")) == 400
    assert len(test) == 100
    assert not list((project.path / "data").rglob(".tmp-*"))
    lrs = {"defaults": str(SYNTHETIC_TRAINING["lr"]), "lr=0.3": "0.3"}
    for key, run in together.items():
        ref_client, reference = references[key]
        assert run.info.status == "FINISHED"
        assert_complete_record(
            client, run, epochs=EPOCHS, params={"training.lr": lrs[key]}
        )
        assert _final_metrics(run) == _final_metrics(reference)
        for path in ["scratch/metrics.json", "concise/history.csv"]:
            assert artifact_text(client, run.info.run_id, path, tmp_path / key) == (
                artifact_text(
                    ref_client, reference.info.run_id, path, tmp_path / f"ref-{key}"
                )
            )
        comparison = artifact_table(
            client, run.info.run_id, "model_comparison.csv", tmp_path / key
        )
        for row in comparison.itertuples():
            assert row.test_acc == run.data.metrics[f"{row.model}.final.test_acc"]
            assert row.trained_in_run == run.info.run_id
        accuracy = _model_accuracy(client, run, test)
        for model in MODELS:
            assert accuracy[f"{model}_model"] == pytest.approx(
                run.data.metrics[f"{model}.final.test_acc"], abs=1e-12
            )
    assert (
        together["defaults"].data.metrics["scratch.final.train_loss"]
        != together["lr=0.3"].data.metrics["scratch.final.train_loss"]
    )


def test_the_record_reads_well_in_the_mlflow_ui(runs_at_once):
    project, outputs = runs_at_once
    client = client_for(project.path)

    run = run_named(client, "defaults __default__")

    experiment = client.get_experiment_by_name("fashion_mnist")
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    # The UI draws a key's part before its last "/" as a chart section: the
    # learning curves only, so a class name ("T-shirt/top") makes none.
    sections = {key.rpartition("/")[0] for key in run.data.metrics if "/" in key}
    assert sections == {f"{model}.learning_curves" for model in MODELS}
    assert "scratch.final.test_acc.T-shirt_top" in run.data.metrics
    assert run.data.tags["runner"] == "SequentialRunner"
    for noise in ["Add type hints", "register_new_resolver", "AnyType"]:
        assert not [output for output in outputs if noise in output]


def _training_under_way(project):
    """A `kedro run` process of the training pipeline, returned once its second epoch is logged."""
    process, log = start_kedro(
        project.path,
        "run",
        "--pipelines",
        "training",
        "--params",
        f"training.num_epochs={ENDLESS}",
    )
    wait_for_text(log, f"epoch 2/{ENDLESS}", process, timeout=120)
    return process, log


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_training_ends_the_run_killed_with_the_reason(
    tmp_path, synthetic_run, signum
):
    project = synthetic_run.copy(tmp_path / "project", TABLES, store=True)
    process, log = _training_under_way(project)

    process.send_signal(signum)
    rc, output = finish(process, log, timeout=120)

    (run,) = runs(client_for(project.path))
    assert rc != 0, output[-3000:]
    assert run.info.status == "KILLED"
    assert (
        run.data.tags["fashion_mnist.end_reason"]
        == f"{signal.Signals(signum).name} received"
    )
    assert not list((project.path / "data").rglob(".tmp-*"))
    project.run(pipeline_names=["ingestion"])
    assert [r.info.status for r in runs(client_for(project.path))] == [
        "KILLED",
        "FINISHED",
    ]


def test_a_run_killed_during_training_and_its_pending_models_are_ended_by_the_next_run(
    tmp_path, synthetic_run
):
    project = synthetic_run.copy(tmp_path / "project", TABLES, store=True)
    process, _ = _training_under_way(project)

    process.send_signal(signal.SIGKILL)
    process.wait()
    client = client_for(project.path)
    (killed,) = runs(client)
    # A model the run had begun to log when it was killed.
    pending = client.create_logged_model(
        killed.info.experiment_id,
        source_run_id=killed.info.run_id,
        name="scratch_model",
    )
    assert killed.info.status == "RUNNING"
    assert str(pending.status) == "PENDING"
    project.run(pipeline_names=["training"])

    killed, after = runs(client)
    assert killed.info.status == "KILLED"
    assert f"process {process.pid} " in killed.data.tags["fashion_mnist.end_reason"]
    assert after.info.run_id in killed.data.tags["fashion_mnist.end_reason"]
    assert str(client.get_logged_model(pending.model_id).status) == "FAILED"
    assert after.info.status == "FINISHED"
    for model in MODELS:
        path = project.path / "data/06_models" / model / "model.safetensors"
        assert SoftmaxModelDataset(filepath=str(path)).load()["weight"].shape == (
            10,
            784,
        )


# A `kedro run --pipelines ingestion` that stops for good once the training
# table is written to its private folder, before it is renamed into place.
_STOPS_BEFORE_RENAME = """
import os, sys, time
from pathlib import Path
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

rename = os.replace

def stop_before_renaming_the_table(source, target):
    if Path(target).name == "fashion_mnist_train.parquet":
        print("staged", source, flush=True)
        time.sleep(600)
    rename(source, target)

os.replace = stop_before_renaming_the_table
bootstrap_project(Path.cwd())
with KedroSession.create() as session:
    session.run(pipeline_names=["ingestion"])
"""


def test_a_run_killed_while_saving_a_table_keeps_the_previous_file_whole(
    tmp_path, synthetic_run
):
    project = synthetic_run.copy(tmp_path / "project", store=True)
    target = project.path / "data/03_primary/fashion_mnist_train.parquet"
    previous = make_table(n_per_class=2, seed=7)
    previous.to_parquet(target)
    log = tmp_path / "ingestion.log"
    process = subprocess.Popen(
        [sys.executable, "-c", _STOPS_BEFORE_RENAME],
        cwd=project.path,
        env=environment(),
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_text(log, "staged", process, timeout=120)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        stop(process)

    staged = [p.name for p in target.parent.iterdir() if p.name.startswith(".tmp-")]
    assert staged, "the write left no private folder to clean"
    pd.testing.assert_frame_equal(pd.read_parquet(target), previous)
    project.run(pipeline_names=["ingestion"])
    assert not list((project.path / "data").rglob(".tmp-*"))
    assert len(pd.read_parquet(target)) == 400


def test_an_unreadable_table_names_the_command_that_rebuilds_it(
    tmp_path, synthetic_run
):
    project = synthetic_run.copy(tmp_path / "project", TABLES, store=True)
    table = project.path / "data/03_primary/fashion_mnist_train.parquet"
    table.write_bytes(table.read_bytes()[: table.stat().st_size // 2])

    with pytest.raises(DatasetError) as excinfo:
        project.run(pipeline_names=["training"])

    message = " ".join(str(excinfo.value).split())
    assert "fashion_mnist_train.parquet is unreadable" in message
    assert "Rebuild it with: kedro run --pipelines ingestion" in message


@pytest.mark.skipif(
    os.geteuid() != 0, reason="mounting a small tmpfs needs root (CI runs as root)"
)
def test_a_full_disk_leaves_whole_figures_or_none(tmp_path, synthetic_run):
    project = synthetic_run.copy(
        tmp_path / "project",
        ("03_primary", "06_models", "07_model_output", "08_reporting"),
        store=True,
    )
    scratch = project.path / "data/08_reporting/scratch"
    metrics = (scratch / "metrics.json").read_bytes()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", scratch], check=True
    )
    try:
        (scratch / "metrics.json").write_bytes(metrics)
        (scratch / "filler").write_bytes(b"\0" * (80 << 10))

        with pytest.raises((DatasetError, OSError), match="No space left on device"):
            project.run(pipeline_names=["reporting"])

        for png in scratch.glob("*.png"):
            assert imread(png).shape[2] == 4
        assert not list(scratch.glob(".tmp-*"))
        assert json.loads((scratch / "metrics.json").read_bytes())["test_acc"] > 0.7
    finally:
        subprocess.run(["umount", scratch], check=True)


@pytest.mark.parametrize(
    ("runner", "name"),
    [(SequentialRunner(is_async=True), "--async"), (ThreadRunner(), "ThreadRunner")],
    ids=["async", "thread"],
)
def test_every_runner_gives_one_run_holding_everything(
    tmp_path, synthetic_run, runner, name
):
    project = synthetic_run.copy(tmp_path / "project", TABLES, store=True)

    project.run(runner=runner)

    client = client_for(project.path)
    (run,) = runs(client)
    assert run.info.status == "FINISHED"
    assert run.info.run_name == f"{name} __default__"
    assert_complete_record(client, run, epochs=EPOCHS)


def test_parallel_runner_is_refused_before_any_mlflow_run(tmp_path):
    project = make_project_copy(tmp_path / "project")

    result = project.kedro("run", "--runner", "ParallelRunner", check=False)

    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0
    assert UnsupportedRunnerError.__name__ in output
    assert "ParallelRunner is not supported" in output
    assert "SequentialRunner (the default, also with --async) or ThreadRunner" in output
    assert runs(client_for(project.path)) == []


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


@pytest.fixture(scope="module")
def partial_project(tmp_path_factory, synthetic_run):
    """A project copy after one full run, then a run from `scratch.train` on."""
    project = synthetic_run.copy(
        tmp_path_factory.mktemp("partial") / "project", TABLES, store=True
    )
    project.run()
    project.run(runtime_params={"training": {"lr": 0.3}}, from_nodes=["scratch.train"])
    return project


def test_a_partial_run_says_what_ran_in_its_name_and_tags(partial_project):
    client = client_for(partial_project.path)
    full = run_named(client, "defaults __default__")
    partial = run_named(
        client, "training.lr=0.3 --from-nodes=scratch.train __default__"
    )

    tags = partial.data.tags
    assert tags["kedro.partial"] == "true"
    assert full.data.tags["kedro.partial"] == "false"
    assert tags["kedro.from-nodes"] == "scratch.train"
    assert tags["kedro.params"] == "training.lr=0.3"
    assert tags["runner"] == "SequentialRunner"


def test_a_partial_run_credits_the_model_it_did_not_train_to_the_earlier_run(
    partial_project, tmp_path
):
    client = client_for(partial_project.path)
    full = run_named(client, "defaults __default__")
    partial = run_named(
        client, "training.lr=0.3 --from-nodes=scratch.train __default__"
    )

    comparison = artifact_table(
        client, partial.info.run_id, "model_comparison.csv", tmp_path
    ).set_index("model")

    assert comparison.loc["scratch", "trained_in_run"] == partial.info.run_id
    assert comparison.loc["concise", "trained_in_run"] == full.info.run_id
    assert partial.data.tags["fashion_mnist.model_source.concise"] == full.info.run_id
    assert partial.data.tags["fashion_mnist.model_source.scratch"] == "this run"
    assert (
        comparison.loc["concise", "test_acc"]
        == full.data.metrics["concise.final.test_acc"]
    )


def test_node_tags_select_one_model_or_one_stage(tmp_path, synthetic_run):
    project = synthetic_run.copy(tmp_path / "project", TABLES, store=True)

    project.run(runtime_params={"evaluation": {"on_failure": "warn"}}, tags=["scratch"])

    (run,) = runs(client_for(project.path))
    assert run.info.run_name == "evaluation.on_failure=warn --tags=scratch __default__"
    assert "scratch.final.test_acc" in run.data.metrics
    assert not any(key.startswith("concise.") for key in run.data.metrics)
    assert run.data.tags["kedro.tags"] == "scratch"


class _InterruptAtSecondEpoch(logging.Handler):
    """Sends this process SIGINT once training logs its second epoch, as Ctrl-C would."""

    def __init__(self) -> None:
        super().__init__()
        self.sent = False

    def emit(self, record: logging.LogRecord) -> None:
        if ": epoch 2/" in record.getMessage() and not self.sent:
            self.sent = True
            os.kill(os.getpid(), signal.SIGINT)


def test_an_interrupted_run_in_a_live_process_is_ended_when_the_next_session_starts(
    tmp_path, synthetic_run
):
    project = synthetic_run.copy(tmp_path / "project", TABLES, store=True)
    client = client_for(project.path)
    # The training loop logs under fashion_mnist.softmax, a logger no logging config names.
    training_log = logging.getLogger("fashion_mnist.softmax")
    interrupt = _InterruptAtSecondEpoch()
    training_log.addHandler(interrupt)
    try:
        with pytest.raises(KeyboardInterrupt):
            project.run(
                runtime_params={"training": {"num_epochs": ENDLESS}},
                pipeline_names=["training"],
            )
    finally:
        training_log.removeHandler(interrupt)
    (interrupted,) = runs(client)
    running = interrupted.info.status

    project.run(pipeline_names=["ingestion"])

    interrupted, after = runs(client)
    assert interrupt.sent
    assert running == "RUNNING"  # until the process goes on with a next session
    assert interrupted.info.status == "KILLED"
    assert interrupted.data.tags["fashion_mnist.end_reason"] == "SIGINT received"
    assert after.info.status == "FINISHED"


class _Relay:
    """A loopback TCP relay to a server; :meth:`cut` ends it as a killed server would.

    Once cut, the port refuses connections and every open connection is
    closed: from the run's side, the server is gone.
    """

    def __init__(self, server_url: str) -> None:
        self._upstream = ("127.0.0.1", int(server_url.rsplit(":", 1)[1]))
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._open: list[socket.socket] = []
        self.cut_at: float | None = None
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                downstream, _ = self._listener.accept()
            except OSError:  # cut
                return
            upstream = socket.create_connection(self._upstream)
            self._open += [downstream, upstream]
            for source, target in [(downstream, upstream), (upstream, downstream)]:
                threading.Thread(
                    target=self._pump, args=(source, target), daemon=True
                ).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(1 << 16):
                target.sendall(data)
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)

    def cut(self) -> None:
        """Stop listening and close every connection, once."""
        if self.cut_at is None:
            self.cut_at = time.monotonic()
        for sock in [self._listener, *self._open]:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


class _CutAtSecondEpoch(logging.Handler):
    """Cuts the relay once training logs its second epoch: the server dies mid-run."""

    def __init__(self, relay: _Relay) -> None:
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
    relay = _Relay(tracking_server)
    uri = f"http://alice:s3cr3tpw@127.0.0.1:{relay.port}"
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
