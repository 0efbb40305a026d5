"""Retrain nodes: the study's best setting, trained on the whole training split.

Optuna and torch are imported when a node runs: every ``kedro`` command
imports this module.
"""

import logging
from typing import Any

import pandas as pd

from fashion_mnist.datasets.tuning_datasets import TrialRuns
from fashion_mnist.params import MODELS, ClassNames, TrainingParams, TuningParams
from fashion_mnist.study import (
    end_dead_workers_trials,
    trial_hyperparameters,
    trials_table,
)

logger = logging.getLogger(__name__)


def study_trials(
    storage: Any, trial_runs: TrialRuns, tuning: TuningParams
) -> pd.DataFrame:
    """The trials of the study ``tuning.study_name``, once no worker runs one.

    Trials that dead workers left RUNNING end first: FAILED, their MLflow
    runs KILLED.

    Args:
        storage: The ``optuna.storages.RDBStorage`` of the catalog.
        trial_runs: Where the trials' MLflow runs are ended.
        tuning: The ``tuning`` group.

    Returns:
        The study's trials table, one row per trial (see the tuning pipeline).

    Raises:
        RuntimeError: When the storage holds no such study, or trials of live
            workers are still running (run again once they finish).
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.load_study(study_name=tuning.study_name, storage=storage)
    except KeyError:
        raise RuntimeError(
            f"The Optuna storage holds no study {tuning.study_name!r}: run "
            "kedro run --pipelines tuning first (or set tuning.study_name)"
        ) from None
    end_dead_workers_trials(study, storage, trial_runs)
    trials = trials_table(study)
    running = trials[trials["state"] == "RUNNING"]["trial"].tolist()
    if running:
        raise RuntimeError(
            f"Study {tuning.study_name!r} still runs trials {running}: retrain "
            "once its workers finish"
        )
    return trials


def retrain_best(  # noqa: PLR0917 (a node: one argument per catalog input)
    train: pd.DataFrame,
    test: pd.DataFrame,
    training: TrainingParams,
    tuning: TuningParams,
    best: dict[str, Any],
    class_names: ClassNames,
) -> dict[str, Any]:
    """Train the best setting on the whole training split; score it once on test.

    Args:
        train: Training table: ``label`` and 784 ``uint8`` pixel columns.
        test: Test table, same layout.
        training: The ``training`` group: the values the study did not search.
        tuning: The ``tuning`` group: the model and the ``fixed`` values.
        best: The best trial (study, trial, val_acc, params).
        class_names: The class names, in label order.

    Returns:
        The study, best trial, model, its parameters, validation accuracy (from
        the study) and the retrained model's train and test loss and accuracy.
    """
    from fashion_mnist.softmax import TRAINERS, evaluate

    hyper = trial_hyperparameters(training, tuning, best["params"])
    model, _ = TRAINERS[tuning.model](train, test, hyper)
    metrics = evaluate(model, train, test, class_names.root)
    result = {
        "study": best["study"],
        "trial": best["trial"],
        "model": tuning.model,
        "params": {**tuning.fixed, **best["params"]},
        "val_acc": best["val_acc"],
        **{
            k: float(metrics[k])
            for k in ("train_loss", "train_acc", "test_loss", "test_acc")
        },
    }
    logger.info(
        "Study %r, best trial %d %s: validation accuracy %.4f; retrained on the "
        "whole training split: test accuracy %.4f",
        result["study"],
        result["trial"],
        result["params"],
        result["val_acc"],
        result["test_acc"],
    )
    return result


def tuned_parameters(
    training: TrainingParams, result: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The parameters file for ``kedro run --env tuned``, and the result's metrics.

    Args:
        training: The ``training`` group as configured.
        result: The retrained best setting (see ``retrain_best``).

    Returns:
        ``{"training": ..., "tuned_from": ...}``: the ``training`` values as
        configured with the best setting applied to both models (the file
        replaces the group), and where it came from; then the MLflow metrics
        ``tuned.val_acc``, ``tuned.test_acc``, ``tuned.train_acc``,
        ``tuned.train_loss``, ``tuned.test_loss``.
    """
    configured = training.model_dump(exclude=set(MODELS), exclude_unset=True)
    parameters = {
        "training": {**configured, **result["params"], **{m: {} for m in MODELS}},
        "tuned_from": {
            "study": result["study"],
            "trial": result["trial"],
            "val_acc": round(result["val_acc"], 6),
            "test_acc": round(result["test_acc"], 6),
        },
    }
    metrics = {
        k: [{"step": 0, "value": float(result[k])}]
        for k in ("val_acc", "test_acc", "train_acc", "train_loss", "test_loss")
    }
    logger.info(
        "Parameters for kedro run --env tuned written (study %r, trial %d)",
        result["study"],
        result["trial"],
    )
    return parameters, metrics
