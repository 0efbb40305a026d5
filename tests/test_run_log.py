"""A `kedro run` piped to a file, as CI and `make run > log` keep it: whole lines, ending with the run."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest
from mlflow import MlflowClient

from fashion_mnist.pipelines.evaluation.nodes import COMPARISON_COLUMNS
from fashion_mnist.tracking.summary import run_url
from tests.support.processes import environment
from tests.support.project import DATA_LAYERS

pytestmark = pytest.mark.slow

# Every record starts a line with its time and level; only a table logged in one
# record (the model comparison) adds lines of its own.
RECORD = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (DEBUG|INFO|WARNING|ERROR|CRITICAL) "
)
VIEW_RUN = re.compile(
    r"View run at http://127\.0\.0\.1:5000/#/experiments/(\d+)/runs/([0-9a-f]{32})"
    r"\?workflowType=machine_learning; serve it with make mlflow-ui$"
)


@pytest.fixture(scope="module")
def piped_run(synthetic_run, tmp_path_factory):
    """`kedro run --pipelines evaluation`, stdout and stderr in one file, no terminal.

    On a copy of the synthetic run (its tables, models and store): the
    evaluation pipeline computes the model comparison without training again.
    """
    project = synthetic_run.copy(
        tmp_path_factory.mktemp("piped") / "project", layers=DATA_LAYERS
    )
    shutil.copy2(synthetic_run.path / "mlflow.db", project.path / "mlflow.db")
    log = project.path.parent / "run.log"
    with log.open("w") as stream:
        result = subprocess.run(
            [sys.executable, "-m", "kedro", "run", "--pipelines", "evaluation"],
            cwd=project.path,
            # No COLUMNS: what CI gives, where Rich would wrap at 80 columns.
            env=environment({"COLUMNS": None}),
            stdin=subprocess.DEVNULL,
            stdout=stream,
            stderr=subprocess.STDOUT,
            check=False,
            timeout=600,
        )
    text = log.read_text()
    assert result.returncode == 0, text[-6000:]
    return project, text.splitlines()


def test_a_piped_run_log_keeps_every_record_and_table_row_on_one_line(piped_run):
    _, lines = piped_run

    start = next(
        i for i, line in enumerate(lines) if line.endswith("Model comparison:")
    )
    header, *rows = lines[start + 1 : start + 4]
    unstamped = [line for line in lines if not RECORD.match(line)]

    # The comparison table's own columns, none wrapped or cut.
    assert header.split() == COMPARISON_COLUMNS
    assert [row.split()[0] for row in rows] == ["scratch", "concise"]
    assert all(len(row.split()) == len(header.split()) for row in rows)
    # The comparison's three lines, and nothing else, stand without a stamp.
    assert unstamped == [header, *rows]


def test_a_piped_run_log_ends_with_the_comparison_and_the_runs_link(piped_run):
    project, lines = piped_run

    match = VIEW_RUN.search(lines[-1])
    assert match, lines[-20:]
    experiment_id, run_id = match.groups()
    run = MlflowClient(f"sqlite:///{project.path / 'mlflow.db'}").get_run(run_id)
    assert run.info.experiment_id == experiment_id
    assert run.info.status == "FINISHED"
    assert lines[-5].endswith("Model comparison:")


def test_a_servers_run_link_leaves_out_its_password():
    url, served = run_url("http://alice:s3cret@mlflow-host:5000/", "3", "0123abcd")

    assert served
    assert url == (
        "http://mlflow-host:5000/#/experiments/3/runs/0123abcd"
        "?workflowType=machine_learning"
    )
