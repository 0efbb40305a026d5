"""The retrain nodes on synthetic tables: reading the study back, retraining, the tuned file."""

import warnings

import optuna
import pytest

from fashion_mnist.datasets.tuning_datasets import TrialRuns
from fashion_mnist.params import ClassNames, TrainingParams, TuningParams
from fashion_mnist.pipelines.retrain.nodes import (
    retrain_best,
    study_trials,
    tuned_parameters,
)
from tests.support.optuna_storage import sqlite_storage
from tests.support.synthetic import CLASS_NAMES, make_table, training_params

TUNING = TuningParams.model_validate(
    {
        "study_name": "done",
        "fixed": {"lr_schedule": "cosine"},
        "search_space": {"lr": {"type": "float", "low": 0.01, "high": 1.0}},
    }
)


@pytest.fixture
def storage(tmp_path):
    return sqlite_storage(tmp_path / "optuna.db")


def test_a_study_that_does_not_exist_names_the_pipeline_to_run_first(storage):
    with pytest.raises(RuntimeError, match="run kedro run --pipelines tuning first"):
        study_trials(storage, TrialRuns(None), TUNING)


def test_a_study_with_a_trial_still_running_elsewhere_is_not_read_yet(storage):
    study = optuna.create_study(study_name="done", storage=storage)
    with warnings.catch_warnings():  # ask() outside optimize() warns with heartbeats
        warnings.simplefilter("ignore")
        trial = study.ask()
    for key, value in {"host": "another-host", "pid": 1, "pid_start": ""}.items():
        trial.set_user_attr(key, value)

    with pytest.raises(RuntimeError, match=r"still runs trials \[0\]"):
        study_trials(storage, TrialRuns(None), TUNING)


def test_a_finished_study_is_read_back_trial_by_trial(storage):
    study = optuna.create_study(
        study_name="done", storage=storage, direction="maximize"
    )
    study.enqueue_trial({"lr": 0.3})
    study.optimize(lambda trial: trial.suggest_float("lr", 0.01, 1.0), n_trials=2)

    trials = study_trials(storage, TrialRuns(None), TUNING)

    assert list(trials["trial"]) == [0, 1]
    assert list(trials["state"]) == ["COMPLETE"] * 2
    assert trials["param.lr"][0] == 0.3


def test_the_best_setting_retrains_on_the_whole_training_split_and_is_tested_once():
    train, test = make_table(n_per_class=30, seed=1), make_table(n_per_class=10, seed=2)
    best = {"study": "done", "trial": 3, "val_acc": 0.9, "params": {"lr": 0.3}}

    result = retrain_best(
        train,
        test,
        TrainingParams.model_validate(training_params()),
        TUNING,
        best,
        ClassNames.model_validate(CLASS_NAMES),
    )

    assert result["params"] == {"lr_schedule": "cosine", "lr": 0.3}
    assert (result["study"], result["trial"], result["model"]) == ("done", 3, "scratch")
    assert result["val_acc"] == 0.9
    assert 0.5 < result["test_acc"] <= 1.0
    assert result["train_loss"] < 2.3


def test_the_tuned_parameters_file_replaces_the_training_group_and_names_its_source():
    configured = training_params()
    result = {
        "study": "s",
        "trial": 7,
        "params": {"lr": 0.2, "lr_schedule": "cosine"},
        "val_acc": 0.85,
        "test_acc": 0.84,
        "train_acc": 0.87,
        "train_loss": 0.4,
        "test_loss": 0.45,
    }

    parameters, metrics = tuned_parameters(
        TrainingParams.model_validate(configured), result
    )

    assert parameters["training"] == {**configured, "lr": 0.2, "lr_schedule": "cosine"}
    assert parameters["tuned_from"] == {
        "study": "s",
        "trial": 7,
        "val_acc": 0.85,
        "test_acc": 0.84,
    }
    TrainingParams.model_validate(parameters["training"])
    assert metrics["test_acc"] == [{"step": 0, "value": 0.84}]
