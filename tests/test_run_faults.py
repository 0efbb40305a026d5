"""A `kedro run` cut short keeps a true record and loses nothing already saved.

A signal, `kill -9` (during training, while saving a table), Ctrl-C in a live
process, an unreadable table, a full disk. Real `kedro` processes where the
process is the point; a session in this process for the rest. Each test works
in its own copy of the small synthetic project. None needs the real data.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys

import pandas as pd
import pytest
from kedro.io import DatasetError
from matplotlib.image import imread

from fashion_mnist.datasets import SoftmaxModelDataset
from fashion_mnist.params import MODELS
from tests.support.processes import environment, stop, wait_for_text
from tests.support.runs import client_for, finish, runs, start_kedro
from tests.support.synthetic import make_table

pytestmark = pytest.mark.slow

TABLES = ("01_raw", "03_primary")
# Enough epochs of the synthetic data to outlive any signal the test sends.
ENDLESS = 100_000


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
