"""`make mlflow-ui` serves the project's own MLflow store on the loopback address.

Its first line is the link to open: the experiment's training runs. MLflow 3's
UI keeps its view in the browser (local storage ``mlflow.workflowType``,
``genai`` at first) unless the link says ``workflowType=machine_learning``; a
real headless Chromium with a fresh profile opens the link as a new user would.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.support.browser import fresh_browser
from tests.support.processes import environment, free_port, stop, wait_for
from tests.support.project import PROJECT_ROOT, make_project_copy

ARTIFACT = PROJECT_ROOT / "test-artifacts" / "mlflow-ui.png"
MODEL_CARD = PROJECT_ROOT / "test-artifacts" / "mlflow-model-card.png"
LOGGED_MODELS = PROJECT_ROOT / "test-artifacts" / "mlflow-logged-models.png"
FIRST_LINE = re.compile(
    r"MLflow UI: open (http://127\.0\.0\.1:\d+/#/experiments/(\d+)"
    r"\?workflowType=machine_learning)$"
)


@dataclass
class UIServer:
    url: str
    log: Path
    store: str


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


@pytest.fixture(scope="module")
def ui_server(synthetic_run, tmp_path_factory) -> Iterator[UIServer]:
    """`make mlflow-ui` in a project copy holding the store of a finished run."""
    root = tmp_path_factory.mktemp("mlflow-ui")
    project = make_project_copy(root / "project")
    # The store of a finished run (a copy: the shared run stays as it was).
    shutil.copy2(synthetic_run.path / "mlflow.db", project.path / "mlflow.db")
    port = free_port()
    log = root / "mlflow-ui.log"
    process = subprocess.Popen(
        # The project's Makefile, run in the copy (-C) as a user runs it there
        # (no "Entering directory"); -o install: use the project's .venv as it
        # is, never reinstall from the copy.
        ["make", "--no-print-directory", "-C", str(project.path),
         "-f", str(PROJECT_ROOT / "Makefile"), "-o", "install", "mlflow-ui",
         f"VENV={PROJECT_ROOT / '.venv'}", f"MLFLOW_PORT={port}"],
        env=environment(),
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{url}/health", process, log)
        yield UIServer(url, log, f"sqlite:///{project.path / 'mlflow.db'}")
    finally:
        stop(process)


def _the_run(store: str):
    client = MlflowClient(store)
    experiment = client.get_experiment_by_name("fashion_mnist")
    (run,) = client.search_runs([experiment.experiment_id])
    return experiment, run


def test_make_mlflow_ui_serves_the_project_store_on_loopback(ui_server):
    experiment, run = _the_run(ui_server.store)

    served = _api(
        ui_server.url, "experiments/get-by-name?experiment_name=fashion_mnist"
    )
    found = _api(
        ui_server.url,
        "runs/search",
        {"experiment_ids": [served["experiment"]["experiment_id"]]},
    )

    assert served["experiment"]["experiment_id"] == experiment.experiment_id
    assert [r["info"]["run_id"] for r in found["runs"]] == [run.info.run_id]


def test_the_first_line_opens_the_training_runs_in_a_fresh_browser(ui_server, tmp_path):
    experiment, run = _the_run(ui_server.store)
    lines = ui_server.log.read_text().splitlines()
    # The first line (`make store`, its prerequisite, is silent when the store is fine).
    match = FIRST_LINE.match(lines[0])
    assert match, "\n".join(lines[:5])
    link, experiment_id = match.groups()
    assert link.startswith(ui_server.url) and experiment_id == experiment.experiment_id

    viewport = {"width": 1600, "height": 1000}
    with fresh_browser(
        tmp_path / "chromium-profile", viewport, ui_server.url
    ) as context:
        page = context.new_page()
        page.goto(link)
        # The runs table's row of the run, by its name, links to the run.
        row = page.locator(f"a[href*='/runs/{run.info.run_id}']").first
        row.wait_for(timeout=60_000)
        landed = page.url
        name = row.inner_text()
        ARTIFACT.parent.mkdir(exist_ok=True)
        page.screenshot(path=ARTIFACT)

    assert f"#/experiments/{experiment_id}/runs?" in landed
    assert "workflowType=machine_learning" in landed
    assert "overview" not in landed and "genai" not in landed
    assert name.strip() == run.info.run_name


def test_a_version_page_shows_its_model_card_and_the_logged_models_their_metrics(
    ui_server, tmp_path
):
    experiment, run = _the_run(ui_server.store)
    client = MlflowClient(ui_server.store)
    version = client.get_model_version_by_alias("fashion_mnist_scratch", "champion")
    acc = run.data.metrics["scratch.final.test_acc"]

    # Wide enough for the models table's metric columns beside the MLflow
    # Assistant panel.
    viewport = {"width": 2200, "height": 1400}
    with fresh_browser(
        tmp_path / "chromium-profile", viewport, ui_server.url
    ) as context:
        page = context.new_page()
        page.goto(
            f"{ui_server.url}/#/models/fashion_mnist_scratch/versions/{version.version}"
        )
        # The description's Markdown, rendered: its bold headline and a table.
        card = page.get_by_text(f"Test accuracy {acc:.4f}").first
        card.wait_for(timeout=60_000)
        card_tag = card.evaluate("e => e.tagName")
        tables = page.locator("table").count()
        MODEL_CARD.parent.mkdir(exist_ok=True)
        page.screenshot(path=MODEL_CARD, full_page=True)

        page.goto(
            f"{ui_server.url}/#/experiments/{experiment.experiment_id}/models"
            "?workflowType=machine_learning"
        )
        page.get_by_text("concise_model").first.wait_for(timeout=60_000)
        page.get_by_text("scratch_model").first.wait_for(timeout=60_000)
        # The metrics, per dataset, beside the models.
        page.get_by_text("fashion_mnist_test (#").first.wait_for(timeout=60_000)
        listed = page.inner_text("body")
        page.screenshot(path=LOGGED_MODELS)

    assert card_tag == "STRONG"
    assert tables >= 1
    assert "test_acc" in listed and "test_loss" in listed
    assert f"{acc:g}" in listed  # scratch_model's test accuracy, in its row
