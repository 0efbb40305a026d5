"""Tuning nodes: one worker of the Optuna study ``tuning.study_name``, and its report.

``kedro run --pipelines tuning`` is one worker: it joins the study in the
storage of the catalog's ``optuna_storage`` and runs trials until the study
holds ``tuning.n_trials`` finished ones. Every worker sharing that storage (one
machine or many) works on the same study. Optuna, torch and matplotlib are
imported when a node runs: every ``kedro`` command imports this module.
"""

import logging
from typing import Any

import pandas as pd

from fashion_mnist.datasets.tuning_datasets import TrialRuns
from fashion_mnist.params import ClassNames, TrainingParams, TuningParams
from fashion_mnist.study import (
    best_trial,
    end_dead_workers_trials,
    finished_trials,
    join_study,
    trials_table,
)
from fashion_mnist.study_progress import StudyProgress

from .worker import make_objective, optimize

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

    First the trials that dead workers left RUNNING end FAILED, and the
    worker logs how long the trials left should take (one epoch timed before
    the first trial). Each trial trains ``tuning.model`` on ``fit`` with the
    ``training`` values, ``tuning.fixed`` and the searched ones, reports its
    validation accuracy per epoch (the median pruner stops poor trials early)
    and is recorded as an MLflow run nested under this ``kedro run``'s run
    (see :mod:`.worker`).

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

    Raises:
        TrialServerLostError: When the MLflow tracking server stopped
            answering during a trial: the trial ended FAIL, the worker stops.
    """
    study = join_study(storage, tuning)
    end_dead_workers_trials(study, storage, trial_runs)
    progress = StudyProgress(training, tuning, finished_trials(study))
    # The per-epoch log names the split it scores (softmax's loop reads attrs).
    validation = validation.copy(deep=False)
    validation.attrs["split"] = "val"
    objective = make_objective(
        study, trial_runs, fit, validation, training, tuning, class_names.root, progress
    )
    optimize(study, objective, fit, validation, training, tuning, progress)
    return trials_table(study)


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
