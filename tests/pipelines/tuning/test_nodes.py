"""The tuning nodes on synthetic tables: search space, study, resume and report."""

import subprocess
import sys

import pandas as pd
import pytest
from kedro.validation.type_extractor import TypeExtractor
from mlflow import MlflowClient
from pydantic import ValidationError

from fashion_mnist.datasets.tuning_datasets import TrialRuns
from fashion_mnist.params import ClassNames, TrainingParams, TuningParams
from fashion_mnist.pipelines.retrain import create_pipeline as retrain_pipeline
from fashion_mnist.pipelines.tuning import create_pipeline as tuning_pipeline
from fashion_mnist.pipelines.tuning.nodes import (
    split_validation_set,
    study_report,
)
from fashion_mnist.study import best_trial
from fashion_mnist.tracking import run as tracking_run
from tests.pipelines.tuning.small_study import (
    SMALL_SPACE,
    run_small_study,
    small_tuning,
)
from tests.support.optuna_storage import sqlite_storage
from tests.support.synthetic import make_table


def test_the_search_space_parses_into_one_dimension_per_parameter():
    dimensions = small_tuning().dimensions()

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
        small_tuning(search_space=space)


def test_the_validation_split_is_stratified_and_leaves_the_test_split_alone():
    train = make_table(n_per_class=40, seed=1)

    fit, validation = split_validation_set(train, small_tuning())

    assert len(fit) + len(validation) == len(train)
    assert (validation["label"].value_counts() == 10).all()


def test_a_short_study_finishes_its_trials_and_reports_its_best(storage, splits):
    trials = run_small_study(storage, splits)

    assert list(trials["trial"]) == [0, 1, 2, 3]
    assert set(trials["study"]) == {"test-study"}
    assert trials["state"].isin(["COMPLETE", "PRUNED"]).all()
    best, metrics, figure = study_report(trials, small_tuning())
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
        trials = run_small_study(storage, splits, TrialRuns(parent), n_trials=3)
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


def test_a_worker_that_joins_later_never_repeats_a_finished_trials_parameters(
    storage, splits
):
    # All six in the random start-up phase, where a fixed seed would repeat itself.
    run_small_study(storage, splits, n_trials=3, n_startup_trials=10)
    # A second worker (or the same one restarted) with the same settings.
    trials = run_small_study(storage, splits, n_trials=6, n_startup_trials=10)

    params = trials.filter(like="param.").apply(tuple, axis=1)
    assert len(trials) == 6
    assert params.is_unique


def test_a_study_run_again_from_scratch_draws_the_same_trials(tmp_path, splits):
    tables = []
    for name in ("one", "two"):
        storage = sqlite_storage(tmp_path / f"{name}.db")
        tables.append(run_small_study(storage, splits, n_trials=3))

    pd.testing.assert_frame_equal(
        tables[0].filter(like="param."), tables[1].filter(like="param.")
    )


def test_a_failing_trial_is_recorded_and_the_study_goes_on(storage, splits):
    # lr 1e38 overflows float32 in the first step: every trial diverges and raises.
    space = {"lr": {"type": "categorical", "choices": [1e38]}}

    trials = run_small_study(storage, splits, n_trials=3, search_space=space)

    assert list(trials["state"]) == ["FAIL"] * 3
    with pytest.raises(RuntimeError, match="No trial of study 'test-study' completed"):
        best_trial(trials)


def test_a_report_of_another_study_is_refused(storage, splits):
    trials = run_small_study(storage, splits, n_trials=2)

    with pytest.raises(RuntimeError, match="belong to study 'test-study'"):
        study_report(trials, small_tuning(study_name="another-study"))


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
