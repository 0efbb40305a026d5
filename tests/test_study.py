"""The shared study: trial seeds, a trial's settings, and the trials dead workers leave."""

import socket
import subprocess
import sys
import time
import warnings

import optuna
import pytest
from mlflow import MlflowClient

from fashion_mnist.datasets.tuning_datasets import TrialRuns
from fashion_mnist.params import TrainingParams, TuningParams
from fashion_mnist.study import (
    end_dead_workers_trials,
    trial_hyperparameters,
    trial_seed,
    trials_table,
)
from fashion_mnist.tracking import run as tracking_run
from fashion_mnist.tracking.processes import END_REASON
from tests.support.optuna_storage import sqlite_storage

TUNING = TuningParams.model_validate(
    {
        "study_name": "reaped",
        "fixed": {"batch_size": 64, "standardize": True},
        "search_space": {"lr": {"type": "float", "low": 0.01, "high": 1.0}},
    }
)


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


@pytest.fixture
def tracked(mlflow_store):
    """A client and a bound parent run, as a ``kedro run`` of the tuning pipeline has."""
    client = MlflowClient(mlflow_store)
    parent = client.create_run(client.create_experiment("tuning")).info.run_id
    tracking_run.bind(parent, mlflow_store, frozenset())
    yield client, TrialRuns(parent)
    tracking_run.unbind()


def _running_trial(study, trial_runs, **claim) -> tuple[int, str]:
    """A RUNNING trial claimed by ``claim``, with a RUNNING MLflow run."""
    with warnings.catch_warnings():  # ask() outside optimize() warns with heartbeats
        warnings.simplefilter("ignore")
        trial = study.ask()
    run_id = trial_runs.start(study.study_name, trial.number, {})
    trial.set_user_attr("mlflow_run_id", run_id)
    for key, value in claim.items():
        trial.set_user_attr(key, value)
    return trial.number, run_id


def test_each_trial_number_has_a_seed_of_its_own_that_never_changes():
    seeds = [trial_seed(0, number) for number in range(100)]

    assert len(set(seeds)) == 100
    assert seeds == [trial_seed(0, number) for number in range(100)]
    assert trial_seed(1, 0) != trial_seed(0, 0)


def test_a_trial_trains_the_shared_values_then_the_fixed_then_its_own():
    training = TrainingParams.model_validate(
        {"lr": 0.5, "batch_size": 32, "seed": 3, "scratch": {"lr": 0.9}}
    )

    hyper = trial_hyperparameters(training, TUNING, {"lr": 0.2})

    assert (hyper.lr, hyper.batch_size, hyper.standardize, hyper.seed) == (
        0.2,
        64,
        True,
        3,
    )


def test_a_restarted_worker_ends_a_dead_local_workers_trial_failed_and_its_run_killed(
    tmp_path, tracked
):
    client, trial_runs = tracked
    storage = sqlite_storage(tmp_path / "optuna.db")
    study = optuna.create_study(study_name="reaped", storage=storage)
    pid = _dead_pid()
    dead, dead_run = _running_trial(
        study, trial_runs, host=socket.gethostname(), pid=pid, pid_start=""
    )
    elsewhere, elsewhere_run = _running_trial(
        study, trial_runs, host="another-host", pid=pid, pid_start=""
    )

    ended = end_dead_workers_trials(study, storage, trial_runs)

    assert ended == [dead]
    trials = study.get_trials()
    assert trials[dead].state.name == "FAIL"
    assert f"worker {pid} on" in trials[dead].user_attrs["fail_reason"]
    assert client.get_run(dead_run).info.status == "KILLED"
    assert "ended without finishing" in client.get_run(dead_run).data.tags[END_REASON]
    # Another host's worker is judged by its heartbeat, not by a local pid.
    assert trials[elsewhere].state.name == "RUNNING"
    assert client.get_run(elsewhere_run).info.status == "RUNNING"


def test_a_trial_whose_heartbeat_stopped_ends_failed_and_its_run_killed(
    tmp_path, tracked
):
    client, trial_runs = tracked
    storage = sqlite_storage(
        tmp_path / "optuna.db", heartbeat_interval=1, grace_period=1
    )
    study = optuna.create_study(study_name="reaped", storage=storage)
    number, run_id = _running_trial(study, trial_runs, host="another-host", pid=1)
    study_id = storage.get_study_id_from_name("reaped")
    storage.record_heartbeat(
        storage.get_trial_id_from_study_id_trial_number(study_id, number)
    )
    # Stale once the storage's clock (whole seconds in SQLite) passed the grace period.
    deadline = time.monotonic() + 30
    while study.get_trials()[number].state.name == "RUNNING":
        assert time.monotonic() < deadline, "the trial never became stale"
        time.sleep(0.2)
        end_dead_workers_trials(study, storage, trial_runs)

    assert study.get_trials()[number].state.name == "FAIL"
    run = client.get_run(run_id)
    assert run.info.status == "KILLED"
    assert "stopped sending heartbeats" in run.data.tags[END_REASON]


def test_an_empty_study_is_an_empty_table_with_the_trial_columns(tmp_path):
    storage = sqlite_storage(tmp_path / "optuna.db")
    study = optuna.create_study(study_name="empty", storage=storage)

    table = trials_table(study)

    assert table.empty
    assert list(table.columns) == [
        "study",
        "trial",
        "state",
        "value",
        "mlflow_run_id",
        "worker",
    ]
