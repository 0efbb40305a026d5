"""`make mlflow-ui` serves the project's own MLflow store on the loopback address."""

import json
import shutil
import subprocess
import urllib.request

from tests.support.processes import environment, free_port, stop, wait_for
from tests.support.project import PROJECT_ROOT, make_project_copy


def _api(url: str, endpoint: str, body: dict | None = None) -> dict:
    """An MLflow REST call (a POST when ``body`` is given), without any proxy."""
    request = urllib.request.Request(
        f"{url}/api/2.0/mlflow/{endpoint}",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=30) as response:
        return json.loads(response.read())


def test_make_mlflow_ui_serves_the_project_store_on_loopback(synthetic_run, tmp_path):
    project = make_project_copy(tmp_path / "project")
    # The store of a finished run (a copy: the shared run stays as it was).
    shutil.copy2(synthetic_run.path / "mlflow.db", project.path / "mlflow.db")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "mlflow-ui.log"
    process = subprocess.Popen(
        # The project's Makefile, run in the copy (-C); -o install: use the
        # project's .venv as it is, never reinstall from the copy.
        ["make", "-C", str(project.path), "-f", str(PROJECT_ROOT / "Makefile"),
         "-o", "install", "mlflow-ui", f"VENV={PROJECT_ROOT / '.venv'}",
         f"MLFLOW_PORT={port}"],
        env=environment(),
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        wait_for(f"{url}/health", process, log)

        experiment = _api(url, "experiments/get-by-name?experiment_name=fashion_mnist")
        found = _api(
            url,
            "runs/search",
            {"experiment_ids": [experiment["experiment"]["experiment_id"]]},
        )
    finally:
        stop(process)

    assert [run["info"]["run_name"] for run in found["runs"]] == [
        "__default__ defaults"
    ]
