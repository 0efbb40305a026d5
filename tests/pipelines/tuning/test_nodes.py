"""The tuning nodes on synthetic tables: search space, study, resume and report."""

import logging
import re
import subprocess
import sys

import optuna
import pandas as pd
import pytest
from kedro.validation.type_extractor import TypeExtractor
from mlflow import MlflowClient
from pydantic import ValidationError

import fashion_mnist.softmax
from fashion_mnist.datasets.tuning_datasets import TrialRuns
from fashion_mnist.params import ClassNames, TrainingParams, TuningParams
from fashion_mnist.pipelines.retrain import create_pipeline as retrain_pipeline
from fashion_mnist.pipelines.tuning import create_pipeline as tuning_pipeline
from fashion_mnist.pipelines.tuning.nodes import (
    run_study,
    split_validation_set,
    study_report,
)
from fashion_mnist.study import best_trial
from fashion_mnist.tracking import run as tracking_run
from tests.support.optuna_storage import sqlite_storage
from tests.support.synthetic import CLASS_NAMES, make_table, training_params

SMALL_SPACE = {
    "lr": {"type": "float", "low": 0.05, "high": 1.0, "log": True},
    "num_epochs": {"type": "int", "low": 2, "high": 4},
    "lr_schedule": {"type": "categorical", "choices": ["constant", "cosine"]},
    "standardize": {"type": "categorical", "choices": [False, True]},
}


def _tuning(**overrides) -> TuningParams:
    values = {
        "model": "scratch",
        "study_name": "test-study",
        "n_trials": 4,
        "sampler_seed": 0,
        "n_startup_trials": 2,
        "validation": {"size": 100, "seed": 0},
        "pruner": {"n_startup_trials": 2, "n_warmup_steps": 1},
        "search_space": SMALL_SPACE,
    }
    values.update(overrides)
    return TuningParams.model_validate(values)


@pytest.fixture
def storage(tmp_path):
    return sqlite_storage(tmp_path / "optuna.db")


@pytest.fixture
def splits():
    train = make_table(n_per_class=40, seed=1)
    return split_validation_set(train, _tuning())


def _study(storage, splits, trial_runs=None, **overrides):
    fit, validation = splits
    return run_study(
        storage,
        trial_runs or TrialRuns(None),
        fit,
        validation,
        TrainingParams.model_validate(training_params(batch_size=32)),
        _tuning(**overrides),
        ClassNames.model_validate(CLASS_NAMES),
    )


def test_the_search_space_parses_into_one_dimension_per_parameter():
    dimensions = _tuning().dimensions()

    assert [d.name for d in dimensions] == list(SMALL_SPACE)
    assert dimensions[0].kind == "float" and dimensions[0].log
    assert dimensions[2].choices == ("constant", "cosine")


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ({"momentum": {"type": "float", "low": 0.1, "high": 0.9}}, r"search_space\.momentum: unknown parameter"),
        ({"lr": {"type": "float", "low": 0.5, "high": 0.5}}, r"search_space\.lr: empty range low=0\.5, high=0\.5"),
        ({"lr": {"type": "float", "low": 0.0, "high": 1.0, "log": True}}, r"a log range needs low > 0"),
        ({"batch_size": {"type": "categorical", "choices": []}}, r"search_space\.batch_size: no choices"),
        ({"lr_schedule": {"type": "categorical", "choices": ["cosine", "exp"]}}, r"lr_schedule: value 'exp' is invalid"),
        ({}, r"search_space is empty"),
        ({"lr": {"type": "float", "low": "abc", "high": 1.0}}, r"tuning\.search_space\.lr\.low = 'abc': must be a number"),
        ({"lr": 0.1}, r"tuning\.search_space\.lr = 0\.1: must be a mapping"),
    ],
)  # fmt: skip
def test_a_bad_search_space_is_a_clear_error(space, message):
    with pytest.raises(ValidationError, match=message):
        _tuning(search_space=space)


def test_the_validation_split_is_stratified_and_leaves_the_test_split_alone():
    train = make_table(n_per_class=40, seed=1)

    fit, validation = split_validation_set(train, _tuning())

    assert len(fit) + len(validation) == len(train)
    assert (validation["label"].value_counts() == 10).all()


def test_a_short_study_finishes_its_trials_and_reports_its_best(storage, splits):
    trials = _study(storage, splits)

    assert list(trials["trial"]) == [0, 1, 2, 3]
    assert set(trials["study"]) == {"test-study"}
    assert trials["state"].isin(["COMPLETE", "PRUNED"]).all()
    best, metrics, figure = study_report(trials, _tuning())
    complete = trials[trials["state"] == "COMPLETE"]
    assert best["val_acc"] == complete["value"].max()
    assert best["study"] == "test-study"
    assert set(best["params"]) == set(SMALL_SPACE)
    assert metrics["best_val_acc"][-1]["value"] == best["val_acc"]
    assert "test-study" in figure.axes[0].get_title()


def test_each_trial_is_an_mlflow_run_nested_under_the_workers_run(
    storage, splits, mlflow_store
):
    client = MlflowClient(mlflow_store)
    parent = client.create_run(client.create_experiment("tuning")).info.run_id
    tracking_run.bind(parent, mlflow_store, frozenset())
    try:
        trials = _study(storage, splits, TrialRuns(parent), n_trials=3)
    finally:
        tracking_run.unbind()

    for row in trials.to_dict("records"):
        run = client.get_run(row["mlflow_run_id"])
        assert run.data.tags["mlflow.parentRunId"] == parent
        assert run.data.tags["optuna.trial_number"] == str(row["trial"])
        assert run.data.params["training.lr"] == str(row["param.lr"])
        # The values not searched too: the run alone says how the trial trained.
        assert run.data.params["training.batch_size"] == "32"
        assert run.data.params["training.seed"] == "0"
        assert run.data.tags["optuna.searched"] == ",".join(SMALL_SPACE)
        if row["state"] == "COMPLETE":
            assert run.info.status == "FINISHED"
            assert run.data.metrics["final.val_acc"] == pytest.approx(row["value"])
        else:
            assert run.info.status == "KILLED"


def test_each_trial_logs_one_line_with_its_score_the_best_so_far_and_the_trials_left(
    storage, splits, caplog
):
    caplog.set_level(logging.INFO, logger="fashion_mnist")

    trials = _study(storage, splits, n_trials=3)

    lines = [r.getMessage() for r in caplog.records if " trial " in r.getMessage()]
    ended = [line for line in lines if re.search(r"trial \d (finished|pruned)", line)]
    best = best_trial(trials)
    assert len(ended) == 3
    assert re.fullmatch(
        r"Study 'test-study': trial 0 finished: val acc [01]\.\d{4}, best so far "
        r"[01]\.\d{4} \(trial 0\), 1 of 3, about \d+ s left",
        ended[0],
    )
    assert ended[-1].endswith(
        f"best so far {best['val_acc']:.4f} (trial {best['trial']}), 3 of 3"
    )


def test_a_worker_logs_its_expected_duration_once_and_epochs_name_the_validation_split(
    storage, splits, caplog
):
    caplog.set_level(logging.INFO, logger="fashion_mnist")

    _study(storage, splits, n_trials=2)

    messages = [r.getMessage() for r in caplog.records]
    (expected,) = [m for m in messages if "expect about" in m]
    # SMALL_SPACE searches num_epochs from 2 to 4: 3 epochs a trial at most.
    assert re.match(
        r"Study 'test-study': expect about \d+ s for 2 trials of up to 3 epochs "
        r"\(this worker's first epoch took \d+\.\d\d s",
        expected,
    )
    epochs = [m for m in messages if re.match(r"scratch: epoch \d", m)]
    assert epochs
    assert all(" val acc " in m and "test acc" not in m for m in epochs)
    assert messages.index(expected) < messages.index(epochs[1])


def test_a_worker_claims_its_trial_before_the_trial_suggests_anything(
    storage, splits, monkeypatch
):
    claims = []
    original = fashion_mnist.softmax.TRAINERS["scratch"]

    def recording(train, test, hyper, on_epoch=None):
        study = optuna.load_study(study_name="test-study", storage=storage)
        claims.append(study.trials[-1].user_attrs)
        return original(train, test, hyper, on_epoch)

    monkeypatch.setitem(fashion_mnist.softmax.TRAINERS, "scratch", recording)

    _study(storage, splits, n_trials=1)

    (attrs,) = claims
    assert {"host", "pid", "pid_start"} <= set(attrs)


def test_trials_train_on_the_fit_split_and_are_scored_on_the_validation_split(
    storage, splits, monkeypatch
):
    fit, validation = splits
    seen = []
    original = fashion_mnist.softmax.TRAINERS["scratch"]

    def recording(train, test, hyper, on_epoch=None):
        seen.append((len(train), len(test)))
        return original(train, test, hyper, on_epoch)

    monkeypatch.setitem(fashion_mnist.softmax.TRAINERS, "scratch", recording)

    _study(storage, splits, n_trials=2)

    assert seen == [(len(fit), len(validation))] * 2


def test_a_worker_that_joins_later_never_repeats_a_finished_trials_parameters(
    storage, splits
):
    # All six in the random start-up phase, where a fixed seed would repeat itself.
    _study(storage, splits, n_trials=3, n_startup_trials=10)
    # A second worker (or the same one restarted) with the same settings.
    trials = _study(storage, splits, n_trials=6, n_startup_trials=10)

    params = trials.filter(like="param.").apply(tuple, axis=1)
    assert len(trials) == 6
    assert params.is_unique


def test_a_study_run_again_from_scratch_draws_the_same_trials(tmp_path, splits):
    tables = []
    for name in ("one", "two"):
        storage = sqlite_storage(tmp_path / f"{name}.db")
        tables.append(_study(storage, splits, n_trials=3))

    pd.testing.assert_frame_equal(
        tables[0].filter(like="param."), tables[1].filter(like="param.")
    )


def test_a_failing_trial_is_recorded_and_the_study_goes_on(storage, splits):
    # lr 1e38 overflows float32 in the first step: every trial diverges and raises.
    space = {"lr": {"type": "categorical", "choices": [1e38]}}

    trials = _study(storage, splits, n_trials=3, search_space=space)

    assert list(trials["state"]) == ["FAIL"] * 3
    with pytest.raises(RuntimeError, match="No trial of study 'test-study' completed"):
        best_trial(trials)


def test_a_report_of_another_study_is_refused(storage, splits):
    trials = _study(storage, splits, n_trials=2)

    with pytest.raises(RuntimeError, match="belong to study 'test-study'"):
        study_report(trials, _tuning(study_name="another-study"))


def test_kedro_reads_every_parameter_group_of_the_nodes_from_their_type_hints():
    types = TypeExtractor(
        {"tuning": tuning_pipeline(), "retrain": retrain_pipeline()}
    ).extract_types_from_pipelines()

    assert types == {
        "tuning": TuningParams,
        "training": TrainingParams,
        "class_names": ClassNames,
    }


def test_optuna_is_imported_only_when_a_node_runs():
    code = (
        "import sys, fashion_mnist.pipelines.tuning.pipeline, "
        "fashion_mnist.pipelines.retrain.pipeline, fashion_mnist.study; "
        "print(sorted({'optuna', 'torch', 'matplotlib'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "[]"
