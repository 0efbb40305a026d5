"""`make mlflow-ui` serves the project's own MLflow store on the loopback address."""

import shutil
import subprocess

from tests.support.processes import free_port, wait_for
from tests.support.project import PROJECT_ROOT, make_project_copy
from tests.support.runs import stop_process_group


def test_make_mlflow_ui_serves_the_project_store_on_loopback(tmp_path):
    project = make_project_copy(tmp_path / "project")
    shutil.copy2(PROJECT_ROOT / "Makefile", project.path / "Makefile")
    port = free_port()
    log = tmp_path / "mlflow-ui.log"
    process = subprocess.Popen(
        # -o install: use the project's .venv as it is, never reinstall from the copy.
        [
            "make",
            "-o",
            "install",
            "mlflow-ui",
            f"VENV={PROJECT_ROOT / '.venv'}",
            f"MLFLOW_PORT={port}",
        ],
        cwd=project.path,
        env=project.environment(),
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/health", process, log)

        assert (project.path / "mlflow.db").is_file()
    finally:
        stop_process_group(process)
