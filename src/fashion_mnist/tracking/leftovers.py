"""End what earlier runs left RUNNING: a lost server's kept end, a killed process.

A run whose tracking server stopped answering kept its true end under the
project (:mod:`.outage`): it is recorded first, on the run and on its nested
runs still RUNNING (a tuning worker's trials), which stopped with it. A
RUNNING run of this host whose process is gone was killed (``kill -9``): it
ends KILLED.
"""

from __future__ import annotations

import logging
import socket
from pathlib import Path

from . import outage
from .processes import END_REASON, HOST, PID, PID_START, process_alive

logger = logging.getLogger(__name__)


def fail_pending_models(client, mlflow_run) -> None:
    """Mark FAILED the logged models of ``mlflow_run`` that are still PENDING."""
    from mlflow.entities import LoggedModelStatus

    models = client.search_logged_models(
        experiment_ids=[mlflow_run.info.experiment_id],
        filter_string=f"source_run_id = '{mlflow_run.info.run_id}'",
    )
    for model in models:
        if model.status == LoggedModelStatus.PENDING:
            client.finalize_logged_model(model.model_id, LoggedModelStatus.FAILED)


def _record_end(client, found, end: dict, reason: str) -> None:
    run_id = found.info.run_id
    client.set_tag(run_id, END_REASON, reason)
    fail_pending_models(client, found)
    client.set_terminated(run_id, end["status"], end_time=end["end_time"])
    logger.warning("MLflow run %s ended %s: %s", run_id, end["status"], reason)


def record_kept_ends(client, project: Path, me: str) -> None:
    """End the runs whose end a lost server could not record (see :mod:`.outage`).

    A kept run's nested runs still RUNNING end with it, with the same reason.
    """
    from mlflow.exceptions import MlflowException

    for run_id, end, path in outage.kept_ends(project):
        try:
            found = client.get_run(run_id)
        except MlflowException:  # a run of another tracking store: kept for it
            continue
        if found.info.status == "RUNNING":
            _record_end(client, found, end, f"{end['reason']}; recorded by run {me}")
        nested = client.search_runs(
            [found.info.experiment_id],
            filter_string=f"attributes.status = 'RUNNING' and "
            f"tags.`mlflow.parentRunId` = '{run_id}'",
        )
        for child in nested:
            reason = f"{end['reason']} (its parent run {run_id}); recorded by run {me}"
            _record_end(client, child, end, reason)
        path.unlink(missing_ok=True)


def end_abandoned_runs(client, experiment_id: str, me: str) -> None:
    """End the RUNNING runs of this host whose process is gone (``kill -9``)."""
    host = socket.gethostname()
    found = client.search_runs(
        [experiment_id],
        filter_string=f"attributes.status = 'RUNNING' and tags.`{HOST}` = '{host}'",
    )
    for abandoned in found:
        tags = abandoned.data.tags
        pid = tags.get(PID, "")
        if abandoned.info.run_id == me or not pid.isdigit():
            continue
        if process_alive(int(pid), tags.get(PID_START, "")):
            continue
        client.set_tag(
            abandoned.info.run_id,
            END_REASON,
            f"process {pid} on {host} ended without closing the run "
            f"(killed, e.g. kill -9); found by run {me}",
        )
        fail_pending_models(client, abandoned)
        client.set_terminated(abandoned.info.run_id, "KILLED")
        logger.warning(
            "MLflow run %s was left RUNNING by process %s, which is gone: "
            "marked KILLED",
            abandoned.info.run_id,
            pid,
        )
