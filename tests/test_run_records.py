"""Fault tests: the MLflow record of real `kedro run` processes on the real data.

Each test runs kedro in its own project copy (the real tables copied in) and
breaks it the way a user would: two runs at once, a signal, `kill -9`, a full
disk, another runner, a partial run, a tracking server that never answers.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from matplotlib.image import imread

from fashion_mnist.datasets import SoftmaxModelDataset
from fashion_mnist.schemas import PIXEL_COLUMNS
from tests.support.project import make_project_copy
from tests.support.runs import (
    artifact_table,
    artifact_text,
    artifacts,
    client_for,
    copy_data,
    finish,
    logged_models,
    runs,
    start_kedro,
    wait_for_text,
)

pytestmark = [pytest.mark.real_data, pytest.mark.slow]

MODELS = ["scratch", "concise"]
FIGURES = ["prediction_grid.png", "learning_curves.png", "confusion_matrix.png"]
EVERY_ARTIFACT = {
    "model_comparison.csv",
    "learning_curves.png",
    *(f"{m}/{f}" for m in MODELS for f in [*FIGURES, "metrics.json", "history.csv"]),
}
FINALS = ["train_loss", "train_acc", "test_loss", "test_acc"]


def _project(tmp_path: Path, real_project, layers=("01_raw", "03_primary")):
    """A project copy holding the real raw files and tables, and no MLflow store."""
    project = make_project_copy(tmp_path / "project")
    copy_data(real_project.path, project.path, layers)
    return project


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
            (predicted["class_index"].to_numpy() == test["label"].to_numpy()).mean()
        )
    return accuracy


def assert_complete_record(client, run, lr: str = "0.1") -> None:
    """One run holds every param, metric history, artifact and both models."""
    assert run.data.params["training.lr"] == lr
    assert run.data.params["evaluation.thresholds.min_test_acc"] == "0.7"
    for model in MODELS:
        for metric in ["train_loss", "train_acc", "test_acc"]:
            steps = client.get_metric_history(run.info.run_id, f"{model}.{metric}")
            assert sorted(m.step for m in steps) == list(range(1, 11))
        assert set(_final_metrics(run)) <= set(run.data.metrics)
    assert EVERY_ARTIFACT <= artifacts(client, run.info.run_id)
    models = logged_models(client, run)
    assert set(models) == {f"{m}_model" for m in MODELS}
    assert {str(m.status) for m in models.values()} == {"READY"}


def test_two_runs_at_once_each_record_only_what_they_computed(
    tmp_path, real_project, real_run
):
    project = _project(tmp_path, real_project)
    started = [
        start_kedro(project.path, "run", "--params", f"training.lr={lr}")
        for lr in ("0.1", "0.05")
    ]
    results = [finish(process, log) for process, log in started]
    assert [rc for rc, _ in results] == [0, 0], (
        results[0][1][-3000:] + results[1][1][-3000:]
    )
    alone_05 = _project(tmp_path / "alone", real_project)
    alone_05.kedro("run", "--params", "training.lr=0.05")
    client = client_for(project.path)
    together = {r.data.params["training.lr"]: r for r in runs(client)}
    (full_default,) = [
        r
        for r in runs(client_for(real_run.path))
        if r.info.run_name == "__default__ defaults"
    ]
    references = {
        "0.1": (client_for(real_run.path), full_default),
        "0.05": (client_for(alone_05.path), runs(client_for(alone_05.path))[0]),
    }
    test = pd.read_parquet(project.path / "data/03_primary/fashion_mnist_test.parquet")

    assert sorted(together) == ["0.05", "0.1"]
    for lr, run in together.items():
        ref_client, reference = references[lr]
        assert run.info.status == "FINISHED"
        assert_complete_record(client, run, lr)
        assert _final_metrics(run) == _final_metrics(reference)
        for path in ["scratch/metrics.json", "concise/history.csv"]:
            assert artifact_text(client, run.info.run_id, path, tmp_path / lr) == (
                artifact_text(
                    ref_client, reference.info.run_id, path, tmp_path / f"r{lr}"
                )
            )
        comparison = artifact_table(
            client, run.info.run_id, "model_comparison.csv", tmp_path / lr
        )
        for row in comparison.itertuples():
            assert row.test_acc == run.data.metrics[f"{row.model}.final.test_acc"]
            assert row.trained_in_run == run.info.run_id
        accuracy = _model_accuracy(client, run, test)
        for model in MODELS:
            assert accuracy[f"{model}_model"] == pytest.approx(
                run.data.metrics[f"{model}.final.test_acc"], abs=1e-12
            )


def test_the_embedded_store_is_created_once_by_runs_that_start_together(
    tmp_path, real_project
):
    project = _project(tmp_path, real_project, layers=("01_raw",))

    started = [
        start_kedro(project.path, "run", "--pipelines", "ingestion") for _ in range(4)
    ]
    results = [finish(process, log) for process, log in started]

    assert [rc for rc, _ in results] == [0] * 4, "\n".join(
        out[-2000:] for _, out in results
    )
    client = client_for(project.path)
    assert len(client.search_experiments()) == 2  # Default and fashion_mnist
    assert [r.info.status for r in runs(client)] == ["FINISHED"] * 4
    for split, rows in [("train", 60000), ("test", 10000)]:
        table = pd.read_parquet(
            project.path / f"data/03_primary/fashion_mnist_{split}.parquet"
        )
        assert len(table) == rows
    assert not list((project.path / "data").rglob(".tmp-*"))


def _training_under_way(project):
    """A long training run, returned once its second epoch is logged."""
    process, log = start_kedro(
        project.path,
        "run",
        "--pipelines",
        "training",
        "--params",
        "training.num_epochs=200",
    )
    wait_for_text(log, "epoch 2/200", process)
    return process, log


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_training_ends_the_run_killed_with_the_reason(
    tmp_path, real_project, signum
):
    project = _project(tmp_path, real_project)
    process, log = _training_under_way(project)

    process.send_signal(signum)
    rc, output = finish(process, log, timeout=120)

    (run,) = runs(client_for(project.path))
    assert rc != 0
    assert run.info.status == "KILLED"
    assert (
        run.data.tags["fashion_mnist.end_reason"]
        == f"{signal.Signals(signum).name} received"
    )
    assert not list((project.path / "data").rglob(".tmp-*"))
    project.kedro("run", "--pipelines", "training")
    assert [r.info.status for r in runs(client_for(project.path))] == [
        "KILLED",
        "FINISHED",
    ]


def test_a_run_killed_during_training_is_ended_killed_by_the_next_run(
    tmp_path, real_project
):
    project = _project(tmp_path, real_project)
    process, log = _training_under_way(project)

    process.send_signal(signal.SIGKILL)
    process.wait()
    client = client_for(project.path)
    assert [r.info.status for r in runs(client)] == ["RUNNING"]
    project.kedro("run", "--pipelines", "training")

    killed, after = runs(client)
    assert killed.info.status == "KILLED"
    assert f"process {process.pid} " in killed.data.tags["fashion_mnist.end_reason"]
    assert after.info.run_id in killed.data.tags["fashion_mnist.end_reason"]
    assert after.info.status == "FINISHED"
    assert_models_load(project.path)


def assert_models_load(project_path: Path) -> None:
    for model in MODELS:
        path = project_path / "data/06_models" / model / "model.safetensors"
        weights = SoftmaxModelDataset(filepath=str(path)).load()
        assert weights["weight"].shape == (10, 784)


_ABANDONED = """
import os, socket, sys, time
from pathlib import Path
from mlflow import MlflowClient
from fashion_mnist.tracking import processes
client = MlflowClient(sys.argv[1])
experiment = client.get_experiment_by_name("fashion_mnist").experiment_id
run = client.create_run(experiment, tags={
    processes.PID: str(os.getpid()), processes.HOST: socket.gethostname(),
    processes.PID_START: processes.process_start(os.getpid())})
client.create_logged_model(experiment, source_run_id=run.info.run_id, name="scratch_model")
print("ready", run.info.run_id, flush=True)
time.sleep(600)
"""


def test_a_killed_runs_pending_models_are_marked_failed_by_the_next_run(
    tmp_path, real_project
):
    project = _project(tmp_path, real_project, layers=("01_raw",))
    project.kedro("run", "--pipelines", "ingestion")
    client = client_for(project.path)
    process = subprocess.Popen(
        [sys.executable, "-c", _ABANDONED, client.tracking_uri],
        stdout=subprocess.PIPE,
        text=True,
    )
    _, run_id = process.stdout.readline().split()
    (pending,) = client.search_logged_models(
        experiment_ids=[client.get_run(run_id).info.experiment_id],
        filter_string=f"source_run_id = '{run_id}'",
    )
    assert str(pending.status) == "PENDING"

    process.send_signal(signal.SIGKILL)
    process.wait()
    project.kedro("run", "--pipelines", "ingestion")

    assert client.get_run(run_id).info.status == "KILLED"
    assert str(client.get_logged_model(pending.model_id).status) == "FAILED"


def test_a_run_killed_while_saving_a_table_leaves_no_half_file(tmp_path, real_project):
    project = _project(tmp_path, real_project, layers=("01_raw",))
    primary = project.path / "data/03_primary"
    process, _ = start_kedro(project.path, "run", "--pipelines", "ingestion")
    caught = []
    deadline = time.monotonic() + 120
    while not caught and process.poll() is None and time.monotonic() < deadline:
        caught = [p.name for p in primary.iterdir() if p.name.startswith(".tmp-")]
        time.sleep(0.005)  # the staged folder lives for the whole write
    process.send_signal(signal.SIGKILL)
    process.wait()

    assert caught, "the run ended before a table was being written"
    for table in primary.glob("fashion_mnist_*.parquet"):
        assert len(pd.read_parquet(table)) in (60000, 10000)
    project.kedro("run", "--pipelines", "ingestion")
    assert not list((project.path / "data").rglob(".tmp-*"))
    assert len(pd.read_parquet(primary / "fashion_mnist_train.parquet")) == 60000
    assert len(pd.read_parquet(primary / "fashion_mnist_test.parquet")) == 10000


def test_an_unreadable_table_names_the_command_that_rebuilds_it(tmp_path, real_project):
    project = _project(tmp_path, real_project)
    table = project.path / "data/03_primary/fashion_mnist_train.parquet"
    table.write_bytes(table.read_bytes()[: 1 << 20])

    result = project.kedro("run", "--pipelines", "training", check=False)

    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0
    assert "fashion_mnist_train.parquet is unreadable" in output
    assert "Rebuild it with: kedro run --pipelines ingestion" in output


@pytest.mark.skipif(
    os.geteuid() != 0, reason="mounting a small tmpfs needs root (CI runs as root)"
)
def test_a_full_disk_leaves_whole_figures_or_none(tmp_path, real_run):
    project = make_project_copy(tmp_path / "project")
    copy_data(
        real_run.path,
        project.path,
        ("03_primary", "06_models", "07_model_output", "08_reporting"),
    )
    scratch = project.path / "data/08_reporting/scratch"
    metrics = (scratch / "metrics.json").read_bytes()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", scratch], check=True
    )
    try:
        (scratch / "metrics.json").write_bytes(metrics)
        (scratch / "filler").write_bytes(b"\0" * (80 << 10))

        result = project.kedro("run", "--pipelines", "reporting", check=False)

        output = result.stdout + result.stderr
        assert result.returncode != 0
        assert "No space left on device" in output
        for png in scratch.glob("*.png"):
            assert imread(png).shape[2] == 4
        assert not list(scratch.glob(".tmp-*"))
        assert json.loads((scratch / "metrics.json").read_bytes())["test_acc"] > 0.7
    finally:
        subprocess.run(["umount", scratch], check=True)


@pytest.mark.parametrize(
    "runner_args", [["--async"], ["--runner", "ThreadRunner"]], ids=["async", "thread"]
)
def test_every_runner_gives_one_run_holding_everything(
    tmp_path, real_project, runner_args
):
    project = _project(tmp_path, real_project)

    project.kedro("run", *runner_args)

    client = client_for(project.path)
    (run,) = runs(client)
    assert run.info.status == "FINISHED"
    assert_complete_record(client, run)
    name = "--async" if runner_args == ["--async"] else "ThreadRunner"
    assert run.info.run_name == f"__default__ {name} defaults"


def test_parallel_runner_is_refused_before_any_mlflow_run(tmp_path, real_project):
    project = _project(tmp_path, real_project)

    result = project.kedro("run", "--runner", "ParallelRunner", check=False)

    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0
    assert "ParallelRunner is not supported" in output
    assert "SequentialRunner (the default, also with --async) or ThreadRunner" in output
    assert runs(client_for(project.path)) == []


class _SilentServer:
    """Accepts TCP connections on a loopback port and never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(connection)

    def close(self) -> None:
        self.sock.close()
        for connection in self.accepted:
            connection.close()


def test_a_tracking_server_that_never_answers_fails_the_run_within_30_seconds(
    tmp_path, real_project
):
    project = _project(tmp_path, real_project)
    server = _SilentServer()
    uri = f"http://127.0.0.1:{server.port}"
    try:
        started = time.monotonic()
        # The timeout is the requirement: the run must end within 30 s.
        result = project.kedro(
            "run", check=False, env={"MLFLOW_TRACKING_URI": uri}, timeout=30
        )
        elapsed = time.monotonic() - started
    finally:
        server.close()

    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0
    assert f"The MLflow tracking server {uri} did not answer" in output
    assert "unset MLFLOW_TRACKING_URI" in output
    assert "epoch 1/" not in output
    assert server.accepted, f"kedro never connected (ran {elapsed:.1f} s)"


def test_a_refused_tracking_server_fails_the_run_at_once(tmp_path, real_project):
    project = _project(tmp_path, real_project)
    with socket.socket() as sock:  # a free port that nobody listens on
        sock.bind(("127.0.0.1", 0))
        uri = f"http://127.0.0.1:{sock.getsockname()[1]}"

    result = project.kedro(
        "run", check=False, env={"MLFLOW_TRACKING_URI": uri}, timeout=30
    )

    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0
    assert f"The MLflow tracking server {uri} did not answer" in output
    assert "Connection refused" in output


@pytest.fixture(scope="module")
def partial_project(tmp_path_factory, real_project):
    """A project copy after one full run, then a run from `scratch.train` on."""
    project = _project(tmp_path_factory.mktemp("partial"), real_project)
    project.kedro("run")
    project.last_run = project.kedro(
        "run", "--from-nodes", "scratch.train", "--params", "training.lr=0.05"
    )
    return project


def test_a_partial_run_says_what_ran_in_its_name_and_tags(partial_project):
    full, partial = runs(client_for(partial_project.path))

    assert full.info.run_name == "__default__ defaults"
    assert (
        partial.info.run_name
        == "__default__ --from-nodes=scratch.train training.lr=0.05"
    )
    tags = partial.data.tags
    assert (
        tags["kedro.partial"] == "true" and full.data.tags["kedro.partial"] == "false"
    )
    assert tags["kedro.from-nodes"] == "scratch.train"
    assert tags["kedro.params"] == "training.lr=0.05"
    assert tags["runner"] == "SequentialRunner"


def test_a_partial_run_credits_the_model_it_did_not_train_to_the_earlier_run(
    partial_project, tmp_path
):
    client = client_for(partial_project.path)
    full, partial = runs(client)

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


def test_node_tags_select_one_model_or_one_stage(tmp_path, real_project):
    project = _project(tmp_path, real_project)

    project.kedro("run", "--tags", "scratch", "--params", "evaluation.on_failure=warn")

    (run,) = runs(client_for(project.path))
    assert run.info.run_name == "__default__ --tags=scratch evaluation.on_failure=warn"
    assert "scratch.final.test_acc" in run.data.metrics
    assert not any(key.startswith("concise.") for key in run.data.metrics)
    assert run.data.tags["kedro.tags"] == "scratch"


def test_the_record_reads_well_in_the_mlflow_ui(real_run):
    client = client_for(real_run.path)
    (run,) = [r for r in runs(client) if r.info.run_name == "__default__ defaults"]
    log = real_run.last_run.stdout + real_run.last_run.stderr

    experiment = client.get_experiment_by_name("fashion_mnist")
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    assert not [key for key in run.data.metrics if "/" in key]
    assert "scratch.final.test_acc.T-shirt_top" in run.data.metrics
    assert run.data.tags["runner"] == "SequentialRunner"
    for noise in ["Add type hints", "register_new_resolver", "AnyType"]:
        assert noise not in log


_NOTEBOOK = """
import logging, os, signal, threading
from pathlib import Path
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from mlflow import MlflowClient

bootstrap_project(Path.cwd())

# Interrupts the process once training has logged its second epoch.
class SecondEpoch(logging.Handler):
    def emit(self, record):
        if ": epoch 2/" in record.getMessage() and not SEEN.is_set():
            SEEN.set()
            os.kill(os.getpid(), signal.SIGINT)

SEEN = threading.Event()
# The training loop logs under fashion_mnist.softmax, a logger no logging config names.
logging.getLogger("fashion_mnist.softmax").addHandler(SecondEpoch())
try:
    with KedroSession.create(runtime_params={"training": {"num_epochs": 200}}) as session:
        session.run(pipeline_names=["training"])
except KeyboardInterrupt:
    print("interrupted", flush=True)
first = MlflowClient().search_runs(
    [MlflowClient().get_experiment_by_name("fashion_mnist").experiment_id])[0]
with KedroSession.create() as session:
    session.run(pipeline_names=["ingestion"])
print("first", MlflowClient().get_run(first.info.run_id).info.status, flush=True)
"""


def test_an_interrupted_run_in_a_live_process_is_ended_when_the_next_session_starts(
    tmp_path, real_project
):
    project = _project(tmp_path, real_project)

    result = subprocess.run(
        [sys.executable, "-c", _NOTEBOOK],
        cwd=project.path,
        env=project.environment(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "interrupted" in result.stdout
    assert "first KILLED" in result.stdout
    interrupted, after = runs(client_for(project.path))
    assert interrupted.data.tags["fashion_mnist.end_reason"] == "SIGINT received"
    assert after.info.status == "FINISHED"
