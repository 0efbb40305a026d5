"""Start real `kedro run` processes in a project copy and read back their MLflow record."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
from mlflow import MlflowClient


def start_kedro(project_path: Path, *args: str, env: dict[str, str] | None = None):
    """Start `kedro ARGS` in the project copy; its output goes to a log file.

    Returns:
        The process and the path of its log.
    """
    log = project_path / f"kedro-{time.monotonic_ns()}.log"
    full_env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "1", "COLUMNS": "200"}
    full_env.pop("MLFLOW_TRACKING_URI", None)
    full_env.update(env or {})
    process = subprocess.Popen(
        [sys.executable, "-m", "kedro", *args],
        cwd=project_path,
        env=full_env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    return process, log


def wait_for_text(log: Path, text: str, process, timeout: float = 300) -> None:
    """Wait until `text` appears in the log; fail if the process ends first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in log.read_text(errors="replace"):
            return
        if process.poll() is not None:
            raise AssertionError(
                f"kedro exited {process.returncode} before printing {text!r}:\n"
                + log.read_text(errors="replace")[-4000:]
            )
        time.sleep(0.05)
    process.kill()
    raise AssertionError(f"{text!r} did not appear within {timeout} s")


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
    """A client for the project copy's embedded store."""
    return MlflowClient(f"sqlite:///{project_path / 'mlflow.db'}")


def runs(client: MlflowClient) -> list:
    """Every run of the project's experiment, oldest first."""
    experiment = client.get_experiment_by_name("fashion_mnist")
    if experiment is None:
        return []
    return client.search_runs(
        [experiment.experiment_id], order_by=["attributes.start_time ASC"]
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


def stop_process_group(process) -> None:
    """SIGTERM a server started with ``start_new_session=True``, then SIGKILL it."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
