"""The tuning pipeline's two handles: the Optuna storage and the trials' MLflow runs.

The storage URL is a credential (``conf/*/credentials.yml``, by default from
``$OPTUNA_STORAGE``): it reaches the storage and nothing else, and is shown
only with its password masked. The trials' runs are nested under the MLflow
run of the ``kedro run`` that runs them, by run id, from any thread.
"""

from __future__ import annotations

import inspect
import logging
import os
import socket
import time
import warnings
from collections.abc import Sequence
from typing import Any

from kedro.io import AbstractDataset, DatasetError

from fashion_mnist.secrets import mask_url
from fashion_mnist.tracking.processes import (
    END_REASON,
    HOST,
    PID,
    PID_START,
    process_start,
)
from fashion_mnist.tracking.run import client, current_run_id

logger = logging.getLogger(__name__)


def _password(url: str) -> str | None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).password
    except ArgumentError:
        return None


class OptunaStorageDataset(AbstractDataset[None, Any]):
    """Read-only: an Optuna RDB storage, shared by every worker of a study.

    SQLite serves one machine; PostgreSQL (or MySQL) serves many, each running
    ``kedro run --pipelines tuning`` against the same URL. Workers that start
    together race to create the storage's tables; the loser retries.

    A trial whose heartbeat stopped for the grace period ends FAILED when a
    worker next starts or finishes one (``optuna.storages.fail_stale_trials``);
    the storage's stale-trial callback then ends its MLflow run KILLED.

    Example catalog entry::

        optuna_storage:
          type: fashion_mnist.datasets.OptunaStorageDataset
          credentials: optuna_storage   # {url: postgresql://user:pass@host/db}
          heartbeat_interval: 10
    """

    def __init__(
        self,
        *,
        credentials: dict[str, Any],
        heartbeat_interval: int = 10,
        grace_period: int | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Create the dataset.

        Args:
            credentials: ``{"url": <SQLAlchemy URL>}``.
            heartbeat_interval: Seconds between a running trial's heartbeats;
                a trial silent for ``grace_period`` (default twice this) is
                stale and ends FAILED when a worker next starts or finishes one.
            grace_period: See ``heartbeat_interval``.
            metadata: Free-form metadata, ignored by the dataset.

        Raises:
            DatasetError: When the credentials hold no ``url``.
        """
        url = (credentials or {}).get("url")
        if not url:
            raise DatasetError(
                "The Optuna storage has no URL: set credentials optuna_storage.url "
                "(conf/local/credentials.yml) or the OPTUNA_STORAGE variable, e.g. "
                "sqlite:///optuna.db or postgresql://user:password@host/db"
            )
        self._url = str(url)
        self._heartbeat_interval = heartbeat_interval
        self._grace_period = grace_period
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {
            "url": mask_url(self._url),
            "heartbeat_interval": self._heartbeat_interval,
        }

    def load(self) -> Any:
        import optuna
        import sqlalchemy.exc

        # Optuna 4.9 renamed failed_trial_callback; each version documents its own.
        accepted = inspect.signature(optuna.storages.RDBStorage).parameters
        callback = next(
            name
            for name in ("heartbeat_stale_trial_callback", "failed_trial_callback")
            if name in accepted
        )
        attempts = 4
        for attempt in range(1, attempts + 1):
            try:
                with warnings.catch_warnings():  # heartbeats: "experimental" since 2.9
                    warnings.simplefilter(
                        "ignore", optuna.exceptions.ExperimentalWarning
                    )
                    return optuna.storages.RDBStorage(
                        self._url,
                        heartbeat_interval=self._heartbeat_interval,
                        grace_period=self._grace_period,
                        **{callback: end_stale_trial_run},
                    )
            except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError):
                # Another worker created the same tables at the same moment.
                if attempt == attempts:
                    raise
                time.sleep(0.5 * attempt)
            except Exception as exc:  # SQLAlchemy raises many types: "cannot open it"
                message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                password = _password(self._url)
                if password:
                    message = message.replace(password, "***")
                raise DatasetError(
                    f"Cannot open the Optuna storage {mask_url(self._url)}: "
                    f"{type(exc).__name__}: {message}. Check credentials "
                    "optuna_storage.url (or OPTUNA_STORAGE) and that the database "
                    "is reachable."
                ) from None
        return None  # unreachable

    def save(self, data: Any) -> None:
        raise DatasetError(f"{type(self).__name__} is read-only")


def end_stale_trial_run(study: Any, trial: Any) -> None:
    """End KILLED the MLflow run of a trial failed for its silent heartbeat.

    Args:
        study: The ``optuna.Study``.
        trial: The ``optuna.trial.FrozenTrial`` that Optuna just failed.
    """
    reason = "the trial's worker stopped sending heartbeats"
    TrialRuns(current_run_id()).end_abandoned(
        trial.user_attrs.get("mlflow_run_id", ""), reason
    )
    logger.warning(
        "Study %r: trial %d was left RUNNING: %s; marked FAILED (Optuna) and "
        "KILLED (MLflow)",
        study.study_name,
        trial.number,
        reason,
    )


class TrialRuns:
    """Creates and ends the trials' MLflow runs, nested under one parent run.

    Outside a tracked ``kedro run`` (``parent_run_id`` is ``None``) it records
    nothing.
    """

    def __init__(self, parent_run_id: str | None) -> None:
        self.parent_run_id = parent_run_id
        self._client = client() if parent_run_id else None
        self._experiment_id: str | None = None

    def start(
        self,
        study: str,
        number: int,
        params: dict[str, Any],
        searched: Sequence[str] = (),
    ) -> str | None:
        """A RUNNING run ``trial <number>`` holding every training value of the trial.

        ``searched`` names the values Optuna chose (tag ``optuna.searched``);
        the others are ``tuning.fixed`` or the training defaults.
        """
        if self._client is None:
            return None
        from mlflow.entities import Param

        pid = os.getpid()
        if self._experiment_id is None:
            parent = self._client.get_run(self.parent_run_id)
            self._experiment_id = parent.info.experiment_id
        run = self._client.create_run(
            self._experiment_id,
            run_name=f"{study} trial {number}",
            tags={
                "mlflow.parentRunId": self.parent_run_id,
                "optuna.study": study,
                "optuna.trial_number": str(number),
                PID: str(pid),
                HOST: socket.gethostname(),
                PID_START: process_start(pid),
                "optuna.searched": ",".join(searched),
            },
        )
        run_id = run.info.run_id
        self._client.log_batch(
            run_id,
            params=[Param(f"training.{k}", str(v)) for k, v in params.items()],
        )
        return run_id

    def log_epoch(self, run_id: str | None, epoch: int, values: dict[str, float]):
        """One epoch's metrics, in one request."""
        if self._client is None or run_id is None:
            return
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self._client.log_batch(
            run_id, metrics=[Metric(k, float(v), now, epoch) for k, v in values.items()]
        )

    def end(
        self,
        run_id: str | None,
        status: str,
        metrics: dict[str, float] | None = None,
        tags: dict[str, str] | None = None,
    ) -> None:
        """Log the last metrics and tags, then end the run with ``status``."""
        if self._client is None or run_id is None:
            return
        from mlflow.entities import Metric, RunTag

        now = int(time.time() * 1000)
        self._client.log_batch(
            run_id,
            metrics=[Metric(k, float(v), now, 0) for k, v in (metrics or {}).items()],
            tags=[RunTag(k, v) for k, v in (tags or {}).items()],
        )
        self._client.set_terminated(run_id, status)

    def end_abandoned(self, run_id: str, reason: str) -> None:
        """End the run of a trial whose worker is gone KILLED, if still RUNNING."""
        if self._client is None or not run_id:
            return
        try:
            run = self._client.get_run(run_id)
        except Exception:  # another tracking store: nothing to end here
            return
        if run.info.status == "RUNNING":
            self._client.set_tag(run_id, END_REASON, reason)
            self._client.set_terminated(run_id, "KILLED")


class TrialRunsDataset(AbstractDataset[None, TrialRuns]):
    """Read-only: where the tuning node records its trials in MLflow.

    Each trial becomes a run nested (``mlflow.parentRunId``) under the run of
    the ``kedro run`` that runs it. Outside a tracked run, nothing is recorded.

    Example catalog entry::

        trial_runs:
          type: fashion_mnist.datasets.TrialRunsDataset
    """

    def __init__(self, *, metadata: dict[str, Any] | None = None) -> None:
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {}

    def load(self) -> TrialRuns:
        return TrialRuns(current_run_id())

    def save(self, data: Any) -> None:
        raise DatasetError(f"{type(self).__name__} is read-only")
