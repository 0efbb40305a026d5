"""Which MLflow run the current ``kedro run`` records into, visible from every thread.

MLflow keeps its active run per thread, so a dataset saved by ``--async`` or
``ThreadRunner`` in a worker thread finds no active run, and ``mlflow.log_*``
would start a stray run of its own (kedro-mlflow #646). The run record hook
binds here the run kedro-mlflow started; the project's datasets log to it by
id, through ``MlflowClient``, whatever thread saves them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass
class _Binding:
    run_id: str | None = None
    tracking_uri: str | None = None
    produced: frozenset[str] = field(default_factory=frozenset)
    # One client per bound run: each MlflowClient() resolves its store anew.
    client: Any = None


_lock = threading.Lock()
_binding = _Binding()


def bind(
    run_id: str | None, tracking_uri: str | None, produced: frozenset[str]
) -> None:
    """Make ``run_id`` the run that datasets log to, from any thread.

    Args:
        run_id: The MLflow run kedro-mlflow started for this ``kedro run``
            (``None`` when tracking is disabled for its pipelines).
        tracking_uri: The tracking URI that run lives in.
        produced: The datasets that this run's pipeline computes (not loads).
    """
    with _lock:
        _binding.run_id, _binding.tracking_uri = run_id, tracking_uri
        _binding.produced = frozenset(produced)
        _binding.client = None


def unbind() -> None:
    """Forget the run: later saves outside a ``kedro run`` log nothing."""
    with _lock:
        _binding.run_id = _binding.tracking_uri = _binding.client = None
        _binding.produced = frozenset()


def current_run_id() -> str | None:
    """The MLflow run of the ``kedro run`` in progress, or ``None``."""
    return _binding.run_id


def tracking_uri() -> str | None:
    """The tracking URI of the bound run, or ``None``."""
    return _binding.tracking_uri


def client():
    """The ``MlflowClient`` of the bound run's tracking URI, made once per binding."""
    from mlflow import MlflowClient

    with _lock:
        if _binding.client is None or _binding.run_id is None:
            made = MlflowClient(_binding.tracking_uri)
            if _binding.run_id is None:
                return made
            _binding.client = made
        return _binding.client


def produced_in_this_run(dataset_name: str) -> bool:
    """Whether this run computes ``dataset_name`` (rather than loading it from disk)."""
    return dataset_name in _binding.produced
