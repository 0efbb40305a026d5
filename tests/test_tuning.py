"""Tuning through Kedro: a study, retrain and `--env tuned`; workers, kill, Ctrl-C, storage.

Each test works on a copy of the session's synthetic project (400 training
images; the real ones for Ctrl-C). The study, retrain and `--env tuned` run in
this process (the pipelines and catalog are the point); workers sharing a study,
a killed worker, Ctrl-C and a storage refusing connections are `kedro` processes.
"""

from __future__ import annotations

import os
import signal

import optuna
import pytest
import yaml

from tests.support.processes import refused_port
from tests.support.project import ProjectCopy
from tests.support.runs import (
    artifact_table,
    artifact_text,
    artifacts,
    client_for,
    finish,
    input_contexts,
    runs,
    start_kedro,
    wait_for_text,
)

pytestmark = pytest.mark.slow

PASSWORD = "s3cret-pw"
# A worker started with these trains each trial for a thousand epochs (tens of
# seconds): it is still inside its first trial when the test signals it.
LONG_TRIALS = (
    "--params",
    "tuning.search_space.num_epochs.low=1000,tuning.search_space.num_epochs.high=1001",
)


def _tuning(study: str, n_trials: int) -> dict:
    """A study of `n_trials` trials of two or three epochs on the synthetic images.

    Parameters merge key by key (settings.py): conf/base's ``weight_decay``
    stays in the search space.
    """
    return {
        "tuning": {
            "model": "scratch",
            "study_name": study,
            "n_trials": n_trials,
            "timeout_s": None,
            "sampler_seed": 0,
            "n_startup_trials": 10,
            "fixed": {"batch_size": 32},
            "validation": {"size": 100, "seed": 0},
            "pruner": {"n_startup_trials": 10, "n_warmup_steps": 1},
            "search_space": {
                "lr": {"type": "float", "low": 0.05, "high": 0.5, "log": True},
                "num_epochs": {"type": "int", "low": 2, "high": 3},
                "lr_schedule": {"type": "categorical", "choices": ["cosine"]},
                "standardize": {"type": "categorical", "choices": [True, False]},
            },
        }
    }


def _project(source, tmp_path, study: str, n_trials: int) -> ProjectCopy:
    project = source.copy(
        tmp_path / "project", layers=("01_raw", "03_primary"), store=True
    )
    (project.path / "conf/local/parameters_tuning.yml").write_text(
        yaml.safe_dump(_tuning(study, n_trials))
    )
    return project


def _trial_runs(client, study: str) -> list:
    return [r for r in runs(client) if r.data.tags.get("optuna.study") == study]


def _kedro_runs(client, pipeline: str) -> list:
    return [r for r in runs(client) if r.data.tags.get("kedro.pipelines") == pipeline]


def _best_params(client, run_id: str, to) -> dict:
    return yaml.safe_load(artifact_text(client, run_id, "tuning/best_params.yml", to))


def _files_holding(project: ProjectCopy, text: str) -> list:
    """The project's files that hold ``text``: logs, kedro-viz's run events, stores."""
    files = [p for p in project.path.rglob("*") if p.is_file()]
    return [p for p in files if text.encode() in p.read_bytes()]


def test_a_short_study_then_retrain_then_a_run_with_env_tuned(synthetic_run, tmp_path):
    project = _project(synthetic_run, tmp_path, "short", 4)

    project.run(pipeline_names=["tuning"])

    study = optuna.load_study(
        study_name="short", storage=f"sqlite:///{project.path / 'optuna.db'}"
    )
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 4
    client = client_for(project.path)
    (worker,) = _kedro_runs(client, "tuning")
    assert worker.info.status == "FINISHED"
    trial_runs = _trial_runs(client, "short")
    numbers = sorted(int(r.data.tags["optuna.trial_number"]) for r in trial_runs)
    assert numbers == [0, 1, 2, 3]
    for run in trial_runs:
        assert run.data.tags["mlflow.parentRunId"] == worker.info.run_id
        assert run.info.status == "FINISHED"
        trial = study.trials[int(run.data.tags["optuna.trial_number"])]
        assert run.data.metrics["final.val_acc"] == pytest.approx(trial.value)
        assert run.data.params["training.lr"] == str(trial.params["lr"])
    saved = artifacts(client, worker.info.run_id)
    for name in ("best_params.yml", "trials.csv", "optimization_history.png"):
        assert f"tuning/{name}" in saved
    best = _best_params(client, worker.info.run_id, tmp_path)
    assert best["study"] == "short"
    assert best["trial"] == study.best_trial.number
    assert best["val_acc"] == pytest.approx(study.best_value)
    assert best["params"] == study.best_params
    assert worker.data.metrics["tuning.best_val_acc"] == pytest.approx(study.best_value)
    # The worker's run names the two splits its trials trained and were scored on.
    contexts = input_contexts(worker)
    assert contexts == {
        "tuning_fit_split": "training",
        "tuning_validation_split": "validation",
    }

    project.run(pipeline_names=["retrain"])

    tuned = yaml.safe_load(
        (project.path / "conf/tuned/parameters_training.yml").read_text()
    )
    assert tuned["tuned_from"]["study"] == "short"
    assert tuned["tuned_from"]["trial"] == study.best_trial.number
    assert {k: tuned["training"][k] for k in study.best_params} == study.best_params
    (retrain,) = _kedro_runs(client, "retrain")
    assert retrain.data.metrics["tuned.test_acc"] == pytest.approx(
        tuned["tuned_from"]["test_acc"], abs=1e-6
    )
    assert retrain.data.metrics["tuned.val_acc"] == pytest.approx(study.best_value)

    # `kedro run --env tuned --pipelines training --tags scratch`: KEDRO_ENV is --env.
    project.run(
        env={"KEDRO_ENV": "tuned"}, pipeline_names=["training"], tags=["scratch"]
    )

    (tuned_run,) = _kedro_runs(client, "training")
    for name, value in study.best_params.items():
        assert tuned_run.data.params[f"training.{name}"] == str(value)
    history = artifact_table(
        client, tuned_run.info.run_id, "scratch/history.csv", tmp_path / "tuned"
    )
    assert len(history) == study.best_params["num_epochs"]


def test_two_workers_share_a_postgresql_study_and_never_print_its_password(
    synthetic_run, postgres, tmp_path
):
    project = _project(synthetic_run, tmp_path, "shared", 6)
    url = postgres.replace("postgres@", f"postgres:{PASSWORD}@") + "/optuna"
    env = {"OPTUNA_STORAGE": url}

    workers = [
        start_kedro(project.path, "run", "--pipelines", "tuning", env=env)
        for _ in range(2)
    ]
    results = [finish(process, log) for process, log in workers]

    assert [code for code, _ in results] == [0, 0], results[0][1][-3000:]
    for _, output in results:
        assert PASSWORD not in output
    assert _files_holding(project, PASSWORD) == []
    study = optuna.load_study(study_name="shared", storage=url)
    numbers = [t.number for t in study.trials]
    assert len(numbers) >= 6
    assert all(t.state.is_finished() for t in study.trials)
    params = [tuple(sorted(t.params.items())) for t in study.trials]
    assert len(set(params)) == len(params)
    client = client_for(project.path)
    parents = {r.info.run_id for r in _kedro_runs(client, "tuning")}
    assert len(parents) == 2
    trial_runs = _trial_runs(client, "shared")
    recorded = sorted(int(r.data.tags["optuna.trial_number"]) for r in trial_runs)
    assert recorded == sorted(numbers)
    assert {r.data.tags["mlflow.parentRunId"] for r in trial_runs} <= parents
    for parent in parents:
        assert _best_params(client, parent, tmp_path / parent)["study"] == "shared"


def test_an_unreachable_storage_is_named_without_its_password(synthetic_run, tmp_path):
    project = _project(synthetic_run, tmp_path, "nowhere", 2)

    with refused_port() as port:
        url = f"postgresql://tuner:{PASSWORD}@127.0.0.1:{port}/optuna"
        result = project.kedro(
            "run", "--pipelines", "tuning", check=False, env={"OPTUNA_STORAGE": url}
        )

    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert PASSWORD not in output
    masked = f"postgresql://tuner:***@127.0.0.1:{port}/optuna"
    assert f"Cannot open the Optuna storage {masked}" in output
    assert _files_holding(project, PASSWORD) == []


def _worker_in_its_first_trial(source, tmp_path, study: str, n_trials: int):
    """A project copy, its Optuna storage URL, a tuning worker and its log.

    The worker is inside trial 0, which runs for seconds: it logs that a trial
    started once it has claimed it and recorded its MLflow run.
    """
    project = _project(source, tmp_path, study, n_trials)
    storage = f"sqlite:///{project.path / 'optuna.db'}"
    process, log = start_kedro(
        project.path, "run", "--pipelines", "tuning", *LONG_TRIALS
    )
    wait_for_text(log, f"Study '{study}': trial 0 started", process)
    return project, storage, process, log


def test_a_killed_worker_restarted_ends_its_stale_trial_and_repeats_nothing(
    synthetic_run, tmp_path
):
    stale = 0
    project, storage, process, _ = _worker_in_its_first_trial(
        synthetic_run, tmp_path, "resume", 4
    )

    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    # Another process, this one, restarts the worker with the study's short trials.
    project.run(pipeline_names=["tuning"])

    study = optuna.load_study(study_name="resume", storage=storage)
    trial = study.trials[stale]
    assert trial.state.name == "FAIL"
    assert "ended without finishing the trial" in trial.user_attrs["fail_reason"]
    assert len(study.trials) == 4
    assert all(t.state.is_finished() for t in study.trials)
    params = [tuple(sorted(t.params.items())) for t in study.trials]
    assert len(set(params)) == len(params)
    client = client_for(project.path)
    by_number = {
        int(r.data.tags["optuna.trial_number"]): r
        for r in _trial_runs(client, "resume")
    }
    assert by_number[stale].info.status == "KILLED"
    assert trial.user_attrs["mlflow_run_id"] == by_number[stale].info.run_id
    assert all(
        run.info.status == "FINISHED"
        for number, run in by_number.items()
        if number != stale
    )
    killed, restarted = sorted(
        _kedro_runs(client, "tuning"), key=lambda r: r.info.start_time
    )
    assert killed.info.status == "KILLED"
    assert restarted.info.status == "FINISHED"
    best = _best_params(client, restarted.info.run_id, tmp_path)
    assert best["study"] == "resume"
    assert study.trials[best["trial"]].state.name == "COMPLETE"
    assert best["val_acc"] == pytest.approx(study.best_value)


@pytest.mark.real_data
def test_ctrl_c_ends_the_running_trial_failed_and_every_run_killed(
    real_project, tmp_path
):
    # The real images: an epoch is about a second of training and a few
    # milliseconds of MLflow and Optuna writes, so the signal lands in training
    # (on the synthetic images an epoch is mostly those writes).
    running = 0
    project, storage, process, log = _worker_in_its_first_trial(
        real_project, tmp_path, "stop", 2
    )
    wait_for_text(log, "scratch: epoch 1/", process)  # inside the trial's training

    process.send_signal(signal.SIGINT)
    code, output = finish(process, log, timeout=120)

    assert code != 0
    study = optuna.load_study(study_name="stop", storage=storage)
    assert study.trials[running].state.name == "FAIL"
    assert not [t for t in study.trials if t.state.name == "RUNNING"]
    client = client_for(project.path)
    by_number = {
        int(r.data.tags["optuna.trial_number"]): r for r in _trial_runs(client, "stop")
    }
    assert by_number[running].info.status == "KILLED"
    (worker,) = _kedro_runs(client, "tuning")
    assert worker.info.status == "KILLED"
    assert "SIGINT received" in output
