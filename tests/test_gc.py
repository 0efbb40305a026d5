"""`make gc` deletes for good the runs a user deleted, artifacts included, and nothing else."""

from __future__ import annotations

import contextlib
import subprocess
from pathlib import Path

import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from tests.support.processes import environment
from tests.support.project import PROJECT_ROOT, make_project_copy


def _artifacts(client: MlflowClient, run_id: str) -> Path:
    return Path(client.get_run(run_id).info.artifact_uri.removeprefix("file://"))


def test_make_gc_deletes_a_deleted_runs_artifacts_and_keeps_the_others(tmp_path):
    project = make_project_copy(tmp_path / "project", store=True).path
    with contextlib.chdir(project):  # the store's artifacts: <project>/mlruns
        client = MlflowClient(f"sqlite:///{project / 'mlflow.db'}")
        experiment = client.create_experiment("fashion_mnist")
        kept, deleted = (client.create_run(experiment).info.run_id for _ in range(2))
        for run_id in (kept, deleted):
            client.log_text(run_id, "a report", "report.txt")
    kept_files, deleted_files = _artifacts(client, kept), _artifacts(client, deleted)
    # The README's recipe, as written: the store in MLFLOW_TRACKING_URI, then the CLI.
    store = {"MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlflow.db'}"}
    deleting = subprocess.run(
        [str(PROJECT_ROOT / ".venv" / "bin" / "mlflow"), "runs", "delete"]
        + ["--run-id", deleted],
        cwd=project,
        env=environment(store),
        capture_output=True,
        text=True,
        check=False,
    )
    assert deleting.returncode == 0, deleting.stdout + deleting.stderr
    # It marks the run deleted only: its files stay until `make gc`.
    assert client.get_run(deleted).info.lifecycle_stage == "deleted"
    assert (deleted_files / "report.txt").exists()

    result = subprocess.run(
        # In the project, as in a clone: its mlflow.db, no MLFLOW_TRACKING_URI.
        ["make", "-C", str(project), "-f", str(PROJECT_ROOT / "Makefile")]
        + ["-o", "install", "gc", f"VENV={PROJECT_ROOT / '.venv'}"],
        env=environment(),
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Run with ID {deleted} has been permanently deleted" in result.stdout
    assert not deleted_files.parent.exists()
    assert (kept_files / "report.txt").read_text() == "a report"
    with pytest.raises(MlflowException, match=deleted):
        client.get_run(deleted)
    assert client.get_run(kept).info.lifecycle_stage == "active"
