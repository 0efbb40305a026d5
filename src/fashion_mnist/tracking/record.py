"""Bind, name and tag the run kedro-mlflow started; end it truthfully however the run ends.

An interrupted run (SIGINT, SIGTERM) ends KILLED with the signal's name; a run
whose process exits before the pipeline finished ends FAILED; a run whose
tracking server stops answering stops in one sentence, and the next run ends
it FAILED with that reason; a run left RUNNING by a process that is gone
(``kill -9``) is ended KILLED by the next run on the same host.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kedro.framework.hooks import hook_impl

from fashion_mnist.secrets import mask_url

from . import leftovers, outage, run
from .names import SEQUENTIAL, THREAD, run_tags
from .processes import END_REASON, HOST, PID, PID_START, process_start

logger = logging.getLogger(__name__)


@dataclass
class _State:
    """What the record needs between hooks and at exit (one run per process at a time)."""

    signal: str | None = None
    previous_handlers: dict[int, Any] = field(default_factory=dict)
    atexit_registered: bool = False


_state = _State()


def end_run(status: str, reason: str) -> None:
    """End the bound run with ``status`` and ``reason``, then forget it.

    Its pending models are marked FAILED, and this thread's MLflow run stack
    no longer holds it, so a next session in the same process starts afresh.
    """
    run_id = run.current_run_id()
    if run_id is None:
        return
    import mlflow

    client = run.client()
    client.set_tag(run_id, END_REASON, mask_url(reason)[:5000])
    leftovers.fail_pending_models(client, client.get_run(run_id))
    while (active := mlflow.active_run()) and active.info.run_id == run_id:
        mlflow.end_run(status)
    client.set_terminated(run_id, status)
    release()


def release() -> None:
    """Restore the signal handlers and unbind the run."""
    for signum, handler in _state.previous_handlers.items():
        signal.signal(signum, handler)
    _state.previous_handlers = {}
    run.unbind()


def end_interrupted_run() -> None:
    """A run still bound was interrupted: end it KILLED (a signal) or FAILED.

    Called at exit, and when the next session of the same process starts.
    """
    if _state.signal:
        end_run("KILLED", f"{_state.signal} received")
    else:
        end_run("FAILED", "the process exited before the pipeline finished")


def _on_signal(signum: int, frame) -> None:
    _state.signal = signal.Signals(signum).name
    logger.warning(
        "%s received: stopping; the MLflow run %s ends KILLED",
        _state.signal,
        run.current_run_id(),
    )
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise SystemExit(128 + signum)


def _watch_signals() -> None:
    if threading.current_thread() is not threading.main_thread():
        logger.warning(
            "kedro run is not in the main thread: SIGINT and SIGTERM cannot be "
            "recorded; an interrupted run may stay RUNNING until the next run."
        )
        return
    _state.previous_handlers = {
        signum: signal.signal(signum, _on_signal)
        for signum in (signal.SIGINT, signal.SIGTERM)
    }


class RunRecordHook:
    """One truthful MLflow run per ``kedro run``, whatever the runner or the ending."""

    def __init__(self) -> None:
        self._run_params: dict[str, Any] = {}
        self._pipeline_thread: int | None = None
        self._runner_named = False
        self._outer_run: str | None = None

    @hook_impl(tryfirst=True)
    def after_context_created(self) -> None:
        """End a run of this process that an interrupt left open (a notebook goes on)."""
        end_interrupted_run()
        import mlflow

        # A run the caller opened before the session: kedro-mlflow records into
        # it and leaves it open, and so does this hook.
        outer = mlflow.active_run()
        self._outer_run = outer.info.run_id if outer else None

    @hook_impl(trylast=True)
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline, catalog
    ) -> None:
        """Bind the run kedro-mlflow started; name and tag it; watch for signals."""
        import mlflow
        from mlflow.entities import RunTag

        from fashion_mnist.datasets.staging import remove_stale_temp_files

        remove_stale_temp_files(Path(run_params.get("project_path") or ".") / "data")
        active = mlflow.active_run()
        run_id = active.info.run_id if active else None
        _state.signal = None
        self._run_params = run_params
        self._pipeline_thread = threading.get_ident()
        self._runner_named = False
        run.bind(run_id, mlflow.get_tracking_uri(), pipeline.all_outputs())
        if run_id is None:
            logger.info("MLflow tracking is disabled for this pipeline: no run record")
            return
        tags = {
            **run_tags(run_params),
            PID: str(os.getpid()),
            HOST: socket.gethostname(),
            PID_START: process_start(os.getpid()),
            **{
                f"fashion_mnist.model_source.{model}": source
                for model, source in _model_sources(pipeline, catalog).items()
            },
        }
        client = run.client()
        client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])
        project = Path(run_params.get("project_path") or ".")
        leftovers.record_kept_ends(client, project, run_id)
        leftovers.end_abandoned_runs(client, active.info.experiment_id, run_id)
        _watch_signals()
        if not _state.atexit_registered:
            # Registered after MLflow's own exit handler (which would end the
            # run FINISHED), so it runs first.
            atexit.register(end_interrupted_run)
            _state.atexit_registered = True

    @hook_impl
    def before_node_run(self, is_async: bool) -> None:
        """Rename the run once its first node shows ``--async`` or ThreadRunner.

        SequentialRunner runs every node in the thread that started the
        pipeline; ThreadRunner runs them all in its pool's threads.
        """
        run_id = run.current_run_id()
        if self._runner_named or run_id is None:
            return
        self._runner_named = True
        threaded = threading.get_ident() != self._pipeline_thread
        if not (is_async or threaded):
            return
        from mlflow.entities import RunTag

        tags = run_tags(self._run_params, THREAD if threaded else SEQUENTIAL, is_async)
        run.client().log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])

    @hook_impl(trylast=True)
    def after_pipeline_run(self) -> None:
        """Forget the run kedro-mlflow ended FINISHED."""
        run_id = run.current_run_id()
        if run_id is not None and run_id != self._outer_run:
            import mlflow

            # kedro-mlflow resumes the run at each node; with `nested: true` in
            # mlflow.yml each resume stacks it once more in this thread.
            while (active := mlflow.active_run()) and active.info.run_id == run_id:
                mlflow.end_run()
        release()

    @hook_impl(tryfirst=True)
    def on_pipeline_error(self, error: Exception, run_params: dict[str, Any]) -> None:
        """Say why the run failed before kedro-mlflow ends it FAILED.

        Raises:
            TrackingServerLost: The tracking server stopped answering: the
                run's end is kept under the project for the next run.
        """
        run_id = run.current_run_id()
        lost = outage.lost_server(error, run.tracking_uri())
        if run_id and lost:
            _stop_lost_run(run_id, lost, Path(run_params.get("project_path") or "."))
        if run_id:
            client = run.client()
            reason = mask_url(f"{type(error).__name__}: {error}".strip())
            client.set_tag(run_id, END_REASON, reason[:5000])
            leftovers.fail_pending_models(client, client.get_run(run_id))
        release()


def _stop_lost_run(run_id: str, lost: str, project: Path) -> None:
    """Keep the run's end locally, end it in this process, and say so in one sentence."""
    reason = f"the MLflow tracking server stopped answering during the run ({lost})"
    kept = outage.end_lost_run(run_id, project, reason)
    uri = mask_url(run.tracking_uri() or "")
    release()
    raise outage.TrackingServerLost(
        f"The MLflow tracking server {uri} stopped answering during the run "
        f"({lost}); the run stopped at its first failed request, and the next "
        f"run that reaches the server ends run {run_id} FAILED with this "
        f"reason ({kept})."
    ) from None


def _model_sources(pipeline, catalog) -> dict[str, str]:
    """Per model the run reports on: ``this run``, or the run that trained it."""
    if "model_provenance" not in catalog:
        return {}
    inputs = pipeline.inputs()
    return {
        model: "this run" if source["this_run"] else source["run_id"] or "unknown"
        for model, source in catalog.load("model_provenance").items()
        if source["this_run"] or any(name.startswith(f"{model}.") for name in inputs)
    }
