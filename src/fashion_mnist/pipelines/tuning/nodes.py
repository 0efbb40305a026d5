"""Tuning nodes: one worker of the Optuna study ``tuning.study_name``, and its report.

``kedro run --pipelines tuning`` is one worker: it joins the study in the
storage of the catalog's ``optuna_storage`` and runs trials until the study
holds ``tuning.n_trials`` finished ones. Every worker sharing that storage (one
machine or many) works on the same study. Optuna, torch and matplotlib are
imported when a node runs: every ``kedro`` command imports this module.
"""

import logging
from collections.abc import Callable
from typing import Any

import pandas as pd

from fashion_mnist.datasets.tuning_datasets import TrialRuns
from fashion_mnist.params import ClassNames, TrainingParams, TuningParams
from fashion_mnist.study import (
    FINISHED,
    best_trial,
    end_dead_workers_trials,
    finished_trials,
    join_study,
    trial_hyperparameters,
    trials_table,
)
from fashion_mnist.study_progress import StudyProgress

logger = logging.getLogger(__name__)


def split_validation_set(
    train: pd.DataFrame, tuning: TuningParams
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Carve the study's stratified validation split out of the training table.

    Args:
        train: Training table: ``label`` and 784 ``uint8`` pixel columns.
        tuning: The ``tuning`` group; ``validation.size`` rows (shared equally
            between classes) drawn with ``validation.seed``.

    Returns:
        ``(fit, validation)``: trials train on ``fit`` and are scored on
        ``validation``; the test split is never seen by the study.
    """
    from fashion_mnist.softmax import split_validation

    return split_validation(train, tuning.validation["size"], tuning.validation["seed"])


def run_study(  # noqa: PLR0917 (a node: one argument per catalog input)
    storage: Any,
    trial_runs: TrialRuns,
    fit: pd.DataFrame,
    validation: pd.DataFrame,
    training: TrainingParams,
    tuning: TuningParams,
    class_names: ClassNames,
) -> pd.DataFrame:
    """Join the study and run trials until it holds ``tuning.n_trials`` finished ones.

    First the trials that dead workers left RUNNING end FAILED. Each trial
    trains ``tuning.model`` on ``fit`` with the ``training`` values,
    ``tuning.fixed`` and the searched ones, reports its validation accuracy
    per epoch (the median pruner stops poor trials early) and is recorded as
    an MLflow run nested under this ``kedro run``'s run.

    Args:
        storage: The ``optuna.storages.RDBStorage`` of the catalog.
        trial_runs: Where the trials' MLflow runs are recorded.
        fit: The table trials train on.
        validation: The table trials are scored on.
        training: The ``training`` group: the values not searched.
        tuning: The ``tuning`` group.
        class_names: The class names, in label order.

    Returns:
        Every trial of the study so far, this worker's and the others': study,
        trial number, state, validation accuracy, MLflow run, worker, and one
        ``param.<name>`` column per searched parameter.
    """
    study = join_study(storage, tuning)
    end_dead_workers_trials(study, storage, trial_runs)
    progress = StudyProgress(training, tuning, finished_trials(study))
    # The per-epoch log names the split it scores (softmax's loop reads attrs).
    validation = validation.copy(deep=False)
    validation.attrs["split"] = "val"
    objective = _objective(
        study, trial_runs, fit, validation, training, tuning, class_names.root, progress
    )
    _optimize(study, objective, tuning, progress)
    return trials_table(study)


def _objective(  # noqa: PLR0917
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
    import optuna

    from fashion_mnist.softmax import TRAINERS, evaluate

    dimensions = tuning.dimensions()

    def objective(trial: Any) -> float:
        values = {d.name: d.suggest(trial) for d in dimensions}
        hyper = trial_hyperparameters(training, tuning, values)
        progress.trial_started()
        run_id = trial_runs.start(
            tuning.study_name, trial.number, hyper.model_dump(), searched=list(values)
        )
        if run_id:
            trial.set_user_attr("mlflow_run_id", run_id)
        logger.info(
            "Study %r: trial %d started (MLflow run %s)",
            tuning.study_name,
            trial.number,
            run_id,
        )

        def on_epoch(row: dict[str, float]) -> None:
            epoch = int(row["epoch"])
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
            trial_runs.end(
                run_id, "KILLED", tags={"pruned": "true", "reason": str(exc)}
            )
            raise
        except Exception as exc:
            trial_runs.end(run_id, "FAILED", tags={"error": repr(exc)[:5000]})
            raise
        except KeyboardInterrupt:  # Optuna ends the trial FAIL
            trial_runs.end(run_id, "KILLED", tags={"reason": "interrupted"})
            raise
        except SystemExit:  # SIGTERM: Optuna would leave the trial RUNNING
            trial_runs.end(run_id, "KILLED", tags={"reason": "terminated"})
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            raise
        trial_runs.end(
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

    return objective


def _optimize(
    study: Any,
    objective: Callable[[Any], float],
    tuning: TuningParams,
    progress: StudyProgress,
) -> None:
    """Run trials until the study holds ``tuning.n_trials`` finished ones.

    A trial whose objective raises ends FAIL and the study goes on; Ctrl-C
    ends it FAIL too and stops the worker.
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
    states = tuple(optuna.trial.TrialState[name] for name in FINISHED)
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


def study_report(
    trials: pd.DataFrame, tuning: TuningParams
) -> tuple[dict[str, Any], dict[str, Any], Any]:
    """The study's best trial, its metrics for MLflow and its history figure.

    Args:
        trials: The study's trials table (see ``run_study``).
        tuning: The ``tuning`` group; the trials must be of its study.

    Returns:
        ``best_trial`` (study, trial, validation accuracy, MLflow run and
        parameters, for the best-parameters YAML), the study's metrics
        (``tuning.trial.val_acc`` and ``tuning.best_val_acc``, step = trial
        number, once the catalog's prefix is applied) and the optimisation
        history, a matplotlib ``Figure`` titled with the study's name.

    Raises:
        RuntimeError: When the trials belong to another study, or none completed.
    """
    best = best_trial(trials)
    if best["study"] != tuning.study_name:
        raise RuntimeError(
            f"The trials belong to study {best['study']!r}, not to "
            f"tuning.study_name={tuning.study_name!r}"
        )
    complete = trials[trials["state"] == "COMPLETE"].sort_values("trial")
    running_best = complete["value"].cummax()
    metrics = {
        "trial.val_acc": [
            {"step": int(t), "value": float(v)}
            for t, v in zip(complete["trial"], complete["value"], strict=True)
        ],
        "best_val_acc": [
            {"step": int(t), "value": float(v)}
            for t, v in zip(complete["trial"], running_best, strict=True)
        ],
        "n_trials": [{"step": 0, "value": float(len(trials))}],
    }
    logger.info(
        "Study %r: best trial %d, validation accuracy %.4f, %s",
        best["study"],
        best["trial"],
        best["val_acc"],
        best["params"],
    )
    return best, metrics, _history_figure(trials, best)


def _history_figure(trials: pd.DataFrame, best: dict[str, Any]) -> Any:
    """Each trial's validation accuracy and the best so far: a matplotlib Figure."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 4), dpi=100)
    ax = figure.subplots()
    for state, style in (("COMPLETE", "o"), ("PRUNED", "x")):
        rows = trials[trials["state"] == state]
        if len(rows):
            ax.plot(rows["trial"], rows["value"], style, label=state.lower(), alpha=0.7)
    complete = trials[trials["state"] == "COMPLETE"].sort_values("trial")
    ax.step(
        complete["trial"], complete["value"].cummax(), where="post", label="best so far"
    )
    ax.set_xlabel("trial")
    ax.set_ylabel("validation accuracy")
    ax.set_title(
        f"study {best['study']}: best trial {best['trial']} "
        f"(validation accuracy {best['val_acc']:.4f})"
    )
    ax.legend(loc="lower right")
    figure.tight_layout()
    return figure


def tuning_inputs(fit: pd.DataFrame, validation: pd.DataFrame) -> dict:
    """Name the two splits the trials train and are scored on, as dataset inputs.

    Returns:
        ``tuning_fit_split`` (context ``training``) and
        ``tuning_validation_split`` (context ``validation``), as split.
    """
    return {"tuning_fit_split": fit, "tuning_validation_split": validation}
