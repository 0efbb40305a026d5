"""Start real `kedro run` processes in a project copy and read back their MLflow record."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
from mlflow import MlflowClient

from fashion_mnist.params import MODELS
from fashion_mnist.tracking.processes import PID
from tests.support.processes import environment, wait_for_text

__all__ = [
    "EVERY_ARTIFACT",
    "artifact_table",
    "artifact_text",
    "artifacts",
    "assert_complete_record",
    "client_for",
    "copy_data",
    "finish",
    "logged_models",
    "run_named",
    "runs",
    "start_kedro",
    "wait_for_text",
]

FIGURES = ["prediction_grid.png", "learning_curves.png", "confusion_matrix.png"]
# The artifacts of a default run: the comparison, and each model's reports.
EVERY_ARTIFACT = {
    "model_comparison.csv",
    "learning_curves.png",
    *(f"{m}/{f}" for m in MODELS for f in [*FIGURES, "metrics.json", "history.csv"]),
}
RAW_FILES = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
]


def start_kedro(
    project_path: Path, *args: str, env: dict[str, str | None] | None = None
):
    """Start `kedro ARGS` in the project copy; its output goes to a log file.

    Returns:
        The process and the path of its log.
    """
    log = project_path / f"kedro-{time.monotonic_ns()}.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "kedro", *args],
        cwd=project_path,
        env=environment(env),
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    return process, log


def finish(process, log: Path, timeout: float = 600) -> tuple[int, str]:
    """Wait for the process and return its exit code and output."""
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        process.wait()
        raise
    return process.returncode, log.read_text(errors="replace")


def copy_data(source: Path, target: Path, layers: tuple[str, ...]) -> None:
    """Copy data layers (e.g. ``01_raw``, ``03_primary``) from one project to another."""
    for layer in layers:
        shutil.copytree(
            source / "data" / layer, target / "data" / layer, dirs_exist_ok=True
        )


def client_for(project_path: Path) -> MlflowClient:
    """A client for the project copy's embedded store.

    Made in the copy: MLflow keeps one store object per URI in a process,
    whose default artifact root is ``./mlruns`` of the folder it was made in,
    so an experiment a later in-process run creates keeps its artifacts in
    the copy, never in the working folder of the tests.
    """
    with contextlib.chdir(project_path):
        return MlflowClient(f"sqlite:///{project_path / 'mlflow.db'}")


def runs(client: MlflowClient) -> list:
    """Every run of the project's experiment, oldest first."""
    experiment = client.get_experiment_by_name("fashion_mnist")
    if experiment is None:
        return []
    return client.search_runs(
        [experiment.experiment_id], order_by=["attributes.start_time ASC"]
    )


def run_named(client: MlflowClient, name: str):
    """The one run of the project's experiment called ``name`` (a shared store holds others)."""
    found = [r for r in runs(client) if r.info.run_name == name]
    assert len(found) == 1, f"{len(found)} runs named {name!r}"
    return found[0]


def runs_of_this_process(client: MlflowClient, since_ms: int) -> list:
    """The project's runs made in this process (in-process kedro runs) from ``since_ms`` on.

    For the session's tracking server, which holds other tests' runs: those
    of other processes, or of this one before ``since_ms`` (a time in ms, from
    ``time.time()`` or a run's ``start_time``), are left out.
    """
    experiment = client.get_experiment_by_name("fashion_mnist")
    if experiment is None:
        return []
    return client.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.`{PID}` = '{os.getpid()}' and "
        f"attributes.start_time >= {since_ms}",
        order_by=["attributes.start_time ASC"],
    )


def artifacts(client: MlflowClient, run_id: str, path: str | None = None) -> set[str]:
    """Every artifact path of a run."""
    found = set()
    for item in client.list_artifacts(run_id, path):
        found |= artifacts(client, run_id, item.path) if item.is_dir else {item.path}
    return found


def artifact_text(client: MlflowClient, run_id: str, path: str, tmp: Path) -> str:
    """One artifact's content."""
    local = client.download_artifacts(run_id, path, str(tmp))
    return Path(local).read_text()


def artifact_table(client: MlflowClient, run_id: str, path: str, tmp: Path):
    """One CSV artifact as a table."""
    return pd.read_csv(client.download_artifacts(run_id, path, str(tmp)))


def logged_models(client: MlflowClient, run) -> dict:
    """The run's logged models by name."""
    models = client.search_logged_models(
        experiment_ids=[run.info.experiment_id],
        filter_string=f"source_run_id = '{run.info.run_id}'",
    )
    return {m.name: m for m in models}


def assert_complete_record(
    client: MlflowClient,
    run,
    *,
    epochs: int,
    params: dict[str, str] | None = None,
    tags: dict[str, str] | None = None,
) -> None:
    """One run holds every param, tag, metric history, artifact and both models, ready.

    Args:
        client: A client of the run's store.
        run: The run, as ``search_runs`` returns it.
        epochs: The training epochs: each history has one step per epoch.
        params: Parameter values the run must hold, besides the defaults checked here.
        tags: Tag values the run must hold, besides the reproducibility tags.
    """
    logged, tagged, metrics = run.data.params, run.data.tags, run.data.metrics
    expected = {
        "evaluation.thresholds.min_test_acc": "0.7",
        "reporting.prediction_grid.cols": "6",
        **(params or {}),
    }
    assert {key: logged.get(key) for key in expected} == expected
    for tag in ["git_commit", "git_dirty", "torch_version", "kedro_version"]:
        assert tagged[tag]
    assert tagged["mlflow_version"] and tagged["seed"] == "0" and tagged["device"]
    assert {key: tagged.get(key) for key in tags or {}} == (tags or {})
    assert {t for t in tagged if t.startswith("data_md5.")} == {
        f"data_md5.{f}" for f in RAW_FILES
    }
    for model in MODELS:
        for metric in ["train_loss", "train_acc", "test_acc"]:
            history = client.get_metric_history(
                run.info.run_id, f"{model}.learning_curves/{metric}"
            )
            assert sorted(m.step for m in history) == list(range(1, epochs + 1))
        for final in ["train_loss", "train_acc", "test_loss", "test_acc"]:
            assert f"{model}.final.{final}" in metrics
        assert f"{model}.final.test_acc.Ankle boot" in metrics
    assert EVERY_ARTIFACT <= artifacts(client, run.info.run_id)
    models = logged_models(client, run)
    assert set(models) == {f"{m}_model" for m in MODELS}
    assert {str(m.status) for m in models.values()} == {"READY"}


def input_contexts(run) -> dict[str, str]:
    """Each dataset input of ``run``, by name, with its context tag (``training`` ...)."""
    return {
        d.dataset.name: {t.key: t.value for t in d.tags}["mlflow.data.context"]
        for d in run.inputs.dataset_inputs
    }
