"""Which MLflow run the current ``kedro run`` records into, visible from every thread.

MLflow keeps its active run per thread, so a dataset saved by ``--async`` or
``ThreadRunner`` in a worker thread finds no active run, and ``mlflow.log_*``
then starts a stray run of its own (kedro-mlflow #646, #613/#615). The project's
hook binds the run here once kedro-mlflow has started it; the project's datasets
log to it by id, through ``MlflowClient``, whatever thread saves them.

This module imports nothing heavy: it is read at every ``kedro`` command.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

# Where a run's temporary files live until they are renamed into place; the
# owner's pid in the name lets a later run remove what a killed run left.
TEMP_PREFIX = ".tmp-"


@dataclass
class _Binding:
    run_id: str | None = None
    tracking_uri: str | None = None
    produced: frozenset[str] = field(default_factory=frozenset)


_lock = threading.Lock()
_binding = _Binding()


def bind(run_id: str | None, tracking_uri: str, produced: frozenset[str]) -> None:
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


def unbind() -> None:
    """Forget the run: later saves outside a ``kedro run`` log nothing."""
    with _lock:
        _binding.run_id = _binding.tracking_uri = None
        _binding.produced = frozenset()


def current_run_id() -> str | None:
    """The MLflow run of the ``kedro run`` in progress, or ``None``."""
    return _binding.run_id


def client():
    """An ``MlflowClient`` for the bound run's tracking URI."""
    from mlflow import MlflowClient

    return MlflowClient(_binding.tracking_uri)


def produced_in_this_run(dataset_name: str) -> bool:
    """Whether this run computes ``dataset_name`` (rather than loading it from disk)."""
    return dataset_name in _binding.produced


def temp_name(stem: str) -> str:
    """A temporary file or folder name that records its owner's pid."""
    return f"{TEMP_PREFIX}{os.getpid()}-{threading.get_ident()}-{stem}"


def owner_pid(name: str) -> int | None:
    """The pid recorded by :func:`temp_name` (or the IDX cache's ``.part`` names)."""
    if not name.startswith(TEMP_PREFIX):
        return None
    head = name[len(TEMP_PREFIX) :].split("-", 1)[0]
    return int(head) if head.isdigit() else None


def process_start(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux), or ``""``."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[19]


def process_alive(pid: int, start: str) -> bool:
    """Whether process ``pid`` of this host, started at ``start``, still runs."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    # A recycled pid belongs to a process that started later.
    return not start or process_start(pid) in ("", start)
