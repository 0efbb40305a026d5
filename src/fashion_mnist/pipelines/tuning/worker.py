"""One tuning worker's loop: train, score and record trials until the study is full.

A trial whose training fails ends FAIL and the study goes on. A trial whose
MLflow tracking server stops answering stops the worker: the trial ends FAIL
in Optuna at once (no trial stays RUNNING), and the next run that reaches the
server ends the trial's MLflow run FAILED together with the worker's
(:func:`fashion_mnist.tracking.leftovers.record_kept_ends`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pandas as pd

from fashion_mnist.datasets.tuning_datasets import TrialRuns
from fashion_mnist.params import TrainingParams, TuningParams
from fashion_mnist.study import FINISHED, finished_trials, trial_hyperparameters
from fashion_mnist.study_progress import StudyProgress, slowest_values
from fashion_mnist.tracking import outage
from fashion_mnist.tracking import run as tracking_run

from .signals import whole

logger = logging.getLogger(__name__)


class TrialServerLostError(RuntimeError):
    """A trial's request to the MLflow tracking server got no answer: the worker stops."""

    reason: str


class _LeaveStudy(BaseException):
    """Leaves ``study.optimize`` past Optuna's failed-trial traceback; the trial is told FAIL.

    A ``BaseException``, as ``SystemExit`` is: Optuna catches ``Exception``.
    """

    def __init__(self, error: TrialServerLostError) -> None:
        super().__init__(str(error))
        self.error = error


def _lost(error: BaseException) -> str | None:
    """Why ``error`` is a request to the tracking server that got no answer, or ``None``."""
    return outage.lost_server(error, tracking_run.tracking_uri())


def _start(
    trial_runs: TrialRuns, trial: Any, study: str, hyper: Any, values: dict[str, Any]
) -> str | None:
    """Record the trial's MLflow run whole (:mod:`.signals`) and name it on the trial."""
    with whole():
        run_id = trial_runs.start(
            study, trial.number, hyper.model_dump(), searched=list(values)
        )
        if run_id:
            trial.set_user_attr("mlflow_run_id", run_id)
    logger.info(
        "Study %r: trial %d started (MLflow run %s)", study, trial.number, run_id
    )
    return run_id


def _end(trial_runs: TrialRuns, run_id: str | None, status: str, **last: Any) -> None:
    """End the trial's run whole: a signal waits until it is ended (:mod:`.signals`)."""
    with whole():
        trial_runs.end(run_id, status, **last)


def _server_lost(
    number: int, study: str, run_id: str | None, lost: str, error: Exception
) -> TrialServerLostError:
    """The error that stops the worker, with ``error`` as its context (unprinted)."""
    reason = f"the MLflow tracking server stopped answering ({lost})"
    stopped = TrialServerLostError(
        f"Trial {number} of study {study!r} failed: {reason}; this worker stops, "
        f"and the next run that reaches the server ends the trial's MLflow run "
        f"({run_id or 'if made'}) FAILED with its worker's run."
    )
    stopped.reason = reason
    # The run record finds the lost request's own error there.
    stopped.__context__, stopped.__suppress_context__ = error, True
    return stopped


def make_objective(  # noqa: PLR0917
    study: Any,
    trial_runs: TrialRuns,
    fit: pd.DataFrame,
    validation: pd.DataFrame,
    training: TrainingParams,
    tuning: TuningParams,
    class_names: list[str],
    progress: StudyProgress,
) -> Callable[[Any], float]:
    """The function of an ``optuna.Trial`` that trains, scores and records one trial."""
    # At call time, as in nodes.py: every `kedro` command imports this module.
    import optuna

    from fashion_mnist.softmax import TRAINERS, evaluate

    dimensions = tuning.dimensions()

    def train_and_record(trial: Any, run: dict[str, str | None]) -> float:
        values = {d.name: d.suggest(trial) for d in dimensions}
        hyper = trial_hyperparameters(training, tuning, values)
        progress.trial_started()
        run_id = run["id"] = _start(trial_runs, trial, tuning.study_name, hyper, values)

        def on_epoch(row: dict[str, float]) -> None:
            epoch = int(row["epoch"])
            with whole():
                trial_runs.log_epoch(
                    run_id,
                    epoch,
                    {"val_acc": row["test_acc"], "train_loss": row["train_loss"]},
                )
                trial.report(row["test_acc"], epoch)
            progress.epoch_finished()
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned at epoch {epoch}")

        try:
            model, _ = TRAINERS[tuning.model](fit, validation, hyper, on_epoch)
            metrics = evaluate(model, fit, validation, class_names)
        except optuna.TrialPruned as exc:
            _end(
                trial_runs,
                run_id,
                "KILLED",
                tags={"pruned": "true", "reason": str(exc)},
            )
            raise
        except Exception as exc:
            if _lost(exc) is None:  # a lost server records nothing more
                _end(trial_runs, run_id, "FAILED", tags={"error": repr(exc)[:5000]})
            raise
        except KeyboardInterrupt:  # Optuna ends the trial FAIL
            _end(trial_runs, run_id, "KILLED", tags={"reason": "interrupted"})
            raise
        except SystemExit:  # SIGTERM: Optuna would leave the trial RUNNING
            _end(trial_runs, run_id, "KILLED", tags={"reason": "terminated"})
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            raise
        _end(
            trial_runs,
            run_id,
            "FINISHED",
            metrics={
                "final.val_acc": metrics["test_acc"],
                "final.val_loss": metrics["test_loss"],
                "final.train_acc": metrics["train_acc"],
                "final.train_loss": metrics["train_loss"],
            },
        )
        return metrics["test_acc"]

    def objective(trial: Any) -> float:
        run: dict[str, str | None] = {"id": None}
        try:
            return train_and_record(trial, run)
        except Exception as exc:
            lost = _lost(exc)
            if lost is None:
                raise
            error = _server_lost(trial.number, tuning.study_name, run["id"], lost, exc)
        trial.set_user_attr("fail_reason", error.reason)
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        raise _LeaveStudy(error)

    return objective


def optimize(  # noqa: PLR0917
    study: Any,
    objective: Callable[[Any], float],
    fit: pd.DataFrame,
    validation: pd.DataFrame,
    training: TrainingParams,
    tuning: TuningParams,
    progress: StudyProgress,
) -> None:
    """Run trials until the study holds ``tuning.n_trials`` finished ones.

    Before the first, log how long the trials left should take. A trial whose
    objective raises ends FAIL and the study goes on; Ctrl-C ends it FAIL too
    and stops the worker, and so does a tracking server that stopped
    answering (:class:`TrialServerLostError`, raised once the trial ended).
    """
    import optuna

    finished = finished_trials(study)
    if finished >= tuning.n_trials:
        logger.info(
            "Study %r already holds %d finished trials (tuning.n_trials=%d)",
            tuning.study_name,
            finished,
            tuning.n_trials,
        )
        return
    logger.info(
        "Study %r: %d of %d trials finished; this worker runs trials until "
        "the study holds %d",
        tuning.study_name,
        finished,
        tuning.n_trials,
        tuning.n_trials,
    )
    slowest = trial_hyperparameters(training, tuning, slowest_values(tuning))
    progress.expect(tuning.model, fit, validation, slowest)
    states = tuple(optuna.trial.TrialState[name] for name in FINISHED)
    lost = None
    try:
        study.optimize(
            objective,
            n_trials=tuning.n_trials - finished,
            timeout=tuning.timeout_s,
            catch=(Exception,),
            callbacks=[
                optuna.study.MaxTrialsCallback(tuning.n_trials, states=states),
                progress,
            ],
            gc_after_trial=False,
        )
    except _LeaveStudy as leave:
        lost = leave.error
    if lost is not None:  # raised here, its context stays the lost request's error
        raise lost
