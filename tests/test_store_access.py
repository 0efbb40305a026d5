"""A `kedro run` on an MLflow store it may not write stops in one sentence and loses nothing.

Root writes through file modes, so under root the run is started as the
unprivileged user ``nobody`` (``setpriv``), owning the project folder but not
its ``mlflow.db``: the store is read-only to the run as it is to a user whose
project lies on a read-only share.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.support.processes import environment
from tests.support.project import make_synthetic_project
from tests.support.runs import client_for, runs

NOBODY = 65534


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _as_reader_only(project: Path, store: Path) -> list[str]:
    """Make ``store`` read-only to the run; return the command prefix that runs it so."""
    if os.geteuid() != 0:
        store.chmod(0o444)
        return []
    for folder, _, names in os.walk(project):
        for name in [folder, *(os.path.join(folder, n) for n in names)]:
            os.chown(name, NOBODY, NOBODY)
    os.chown(store, 0, 0)
    store.chmod(0o444)
    user = f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"
    return [shutil.which("setpriv") or "setpriv", *user]


@pytest.fixture
def project():
    # Not under pytest's own folders: they are private to root (mode 0700).
    with tempfile.TemporaryDirectory() as folder:
        Path(folder).chmod(0o755)
        yield make_synthetic_project(Path(folder) / "project", store=True)


def test_a_read_only_store_stops_the_run_in_one_sentence_and_loses_nothing(project):
    project.run(pipeline_names=["ingestion"])
    store = project.path / "mlflow.db"
    before = _digest(store)
    (recorded,) = [run.info.run_id for run in runs(client_for(project.path))]
    prefix = _as_reader_only(project.path, store)

    result = subprocess.run(
        [*prefix, sys.executable, "-m", "kedro", "run", "--pipelines", "ingestion"],
        cwd=project.path,
        # A home the run's user may write: matplotlib's and Kedro's caches.
        env=environment({"HOME": str(project.path), "PYTHONDONTWRITEBYTECODE": "1"}),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert output.strip().splitlines()[-1] == (
        f"Error: The MLflow store {store} cannot be written by this user (attempt "
        "to write a readonly database); nothing was run. Make the file and its "
        f"folder writable (chmod u+w {store} {project.path}), or track elsewhere "
        "with MLFLOW_TRACKING_URI."
    )
    assert "Traceback" not in output
    assert "Running node" not in output
    assert _digest(store) == before
    assert [run.info.run_id for run in runs(client_for(project.path))] == [recorded]
