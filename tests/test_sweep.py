"""The Optuna sweep: search-space checks, honest selection, tracking, and two workers."""

import subprocess
import sys

import optuna
import pytest
import yaml
from mlflow import MlflowClient

from fashion_mnist.pipelines.training.nodes import (
    resolve_hyperparameters,
    train_scratch,
)
from fashion_mnist.sweep import (
    TRAINERS,
    Sweep,
    SweepConfig,
    SweepError,
    open_study,
    parse_search_space,
)
from tests.conftest import SYNTHETIC_TRAINING, make_synthetic_project
from tests.synthetic import CLASS_NAMES, make_table


@pytest.fixture(autouse=True)
def in_tmp_path(tmp_path, monkeypatch):
    """MLflow's embedded store puts artifacts in ./mlruns: keep them out of the repo."""
    monkeypatch.chdir(tmp_path)


SMALL_SPACE = {
    "lr": {"type": "float", "low": 0.05, "high": 1.0, "log": True},
    "num_epochs": {"type": "int", "low": 2, "high": 6},
    "batch_size": {"type": "categorical", "choices": [16, 64]},
    "standardize": {"type": "categorical", "choices": [False, True]},
}


def _config(tmp_path, **overrides):
    values = {
        "model": "scratch",
        "study_name": "test-study",
        "storage": f"sqlite:///{tmp_path / 'optuna.db'}",
        "n_trials": 6,
        "sampler_seed": 0,
        "validation": {"size": 100, "seed": 0},
        "pruner": {"n_startup_trials": 2, "n_warmup_steps": 1},
        "output_dir": str(tmp_path / "sweep"),
        "search_space": SMALL_SPACE,
    }
    values.update(overrides)
    return SweepConfig.model_validate(values)


def _sweep(config):
    return Sweep(
        config,
        train=make_table(n_per_class=40, seed=1),
        test=make_table(n_per_class=10, seed=2),
        training=SYNTHETIC_TRAINING,
        class_names=CLASS_NAMES,
    )


def _trial_runs(client, parent_run_id):
    experiment = client.get_experiment_by_name("fashion_mnist")
    return client.search_runs(
        [experiment.experiment_id], f"tags.`mlflow.parentRunId` = '{parent_run_id}'"
    )


def test_the_search_space_parses_into_one_dimension_per_parameter():
    dimensions = parse_search_space(SMALL_SPACE)

    assert [d.name for d in dimensions] == list(SMALL_SPACE)
    assert dimensions[0].kind == "float" and dimensions[0].log
    assert dimensions[3].choices == (False, True)


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ({"momentum": {"type": "float", "low": 0.1, "high": 0.9}}, r"search_space\.momentum: unknown parameter"),
        ({"lr": {"type": "float", "low": 0.5, "high": 0.5}}, r"search_space\.lr: empty range low=0\.5, high=0\.5"),
        ({"num_epochs": {"type": "int", "low": 9, "high": 3}}, r"search_space\.num_epochs: empty range"),
        ({"lr": {"type": "float", "low": 0.0, "high": 1.0, "log": True}}, r"a log range needs low > 0"),
        ({"batch_size": {"type": "categorical", "choices": []}}, r"search_space\.batch_size: no choices"),
        ({"lr": {"type": "uniform", "low": 0.1, "high": 1}}, r"type must be float, int or categorical, got 'uniform'"),
        ({"batch_size": {"type": "categorical", "choices": [0, 64]}}, r"batch_size: value 0 is invalid: Input should be greater than 0"),
        ({}, r"search_space is empty"),
        ({"lr": {"type": "float", "low": "abc", "high": 1.0}}, r"sweep\.search_space\.lr\.low = 'abc': must be a number"),
        ({"num_epochs": {"type": "int", "low": 2, "high": [9]}}, r"sweep\.search_space\.num_epochs\.high = \[9\]: must be a number"),
        ({"lr": 0.1}, r"sweep\.search_space\.lr = 0\.1: must be a mapping"),
        ({"batch_size": {"type": "categorical", "choices": "64"}}, r"sweep\.search_space\.batch_size\.choices = '64': must be a list"),
    ],
)  # fmt: skip
def test_a_bad_search_space_is_a_clear_error(space, message):
    with pytest.raises(SweepError, match=message):
        parse_search_space(space)


def test_an_unreachable_storage_is_a_clear_error_before_any_trial(tmp_path):
    config = _config(tmp_path, storage="postgresql://nobody@127.0.0.1:9/optuna")

    with pytest.raises(
        SweepError,
        match=r"cannot open the Optuna storage 'postgresql://nobody@127\.0\.0\.1:9/optuna'",
    ):
        open_study(config)


def test_a_short_sweep_tracks_every_trial_and_reports_the_best_once_on_test(tmp_path):
    sweep = _sweep(_config(tmp_path))

    sweep.optimize()
    result = sweep.finish()

    study = sweep.study
    finished = [t for t in study.trials if t.state.is_finished()]
    assert len(finished) == 6
    assert len({t.number for t in study.trials}) == len(study.trials)
    assert result.best_val_acc == study.best_value >= finished[0].value
    assert 0.0 <= result.test_acc <= 1.0
    client = MlflowClient()
    parent = client.get_run(result.parent_run_id)
    assert parent.info.status == "FINISHED"
    assert parent.data.metrics["best_val_acc"] == pytest.approx(study.best_value)
    assert parent.data.metrics["final_test_acc"] == pytest.approx(result.test_acc)
    assert parent.data.tags["best_trial_number"] == str(study.best_trial.number)
    for name, value in study.best_params.items():
        assert parent.data.params[f"best.training.{name}"] == str(value)
    runs = _trial_runs(client, result.parent_run_id)
    by_number = {int(r.data.tags["optuna.trial_number"]): r for r in runs}
    assert sorted(by_number) == sorted(t.number for t in study.trials)
    for trial in study.trials:
        run = by_number[trial.number]
        expected = {"COMPLETE": "FINISHED", "PRUNED": "KILLED", "FAIL": "FAILED"}[
            trial.state.name
        ]
        assert run.info.status == expected
        assert run.data.tags["pruned"] == str(trial.state.name == "PRUNED").lower()
        assert run.data.params["training.lr"] == str(trial.params["lr"])
    best_run = by_number[study.best_trial.number]
    assert best_run.data.metrics["final.val_acc"] == pytest.approx(study.best_value)
    artifacts = {a.path for a in client.list_artifacts(result.parent_run_id)}
    assert {
        "best_params.yml",
        "optimization_history.png",
        "param_importances.png",
    } <= artifacts


def test_the_best_params_file_is_a_training_parameters_file_kedro_can_use(tmp_path):
    sweep = _sweep(_config(tmp_path, n_trials=3))
    sweep.optimize()

    result = sweep.finish()

    tuned = yaml.safe_load(result.best_params_path.read_text())
    assert set(tuned) == {"training"}
    assert tuned["training"] == result.best_params
    hyper = resolve_hyperparameters(
        {**SYNTHETIC_TRAINING, **tuned["training"]}, "scratch"
    )
    assert hyper.lr == result.best_params["lr"]


def test_trials_see_only_the_validation_split_and_the_final_run_only_the_test(
    tmp_path, monkeypatch
):
    sweep = _sweep(_config(tmp_path, n_trials=3))
    scored_on = []

    def recording(train, test, params, on_epoch=None):
        scored_on.append((len(train), id(test)))
        return train_scratch(train, test, params, on_epoch=on_epoch)

    monkeypatch.setitem(TRAINERS, "scratch", recording)

    sweep.optimize()
    sweep.finish()

    trials, final = scored_on[:-1], scored_on[-1]
    assert len(trials) == 3
    assert all(scored == (len(sweep.fit), id(sweep.validation)) for scored in trials)
    assert final == (len(sweep.train), id(sweep.test))
    assert (sweep.validation["label"].value_counts() == 10).all()


def test_a_failing_trial_is_recorded_in_optuna_and_mlflow_and_the_study_goes_on(
    tmp_path,
):
    # lr 1e38 overflows float32 in the first step: every trial diverges and raises.
    space = {"lr": {"type": "categorical", "choices": [1e38]}}
    sweep = _sweep(_config(tmp_path, n_trials=3, search_space=space))

    sweep.optimize()

    states = [t.state for t in sweep.study.trials]
    assert states == [optuna.trial.TrialState.FAIL] * 3
    runs = _trial_runs(MlflowClient(), sweep.parent_run_id)
    assert [r.info.status for r in runs] == ["FAILED"] * 3
    assert all("diverged" in r.data.tags["error"] for r in runs)
    with pytest.raises(SweepError, match="no trial of study 'test-study' completed"):
        sweep.finish()


def test_two_workers_share_one_postgresql_study_and_one_mlflow_server(
    postgres, tracking_server, tmp_path
):
    project = make_synthetic_project(tmp_path / "project")
    (project.path / "conf/local/parameters_sweep.yml").write_text(
        yaml.safe_dump(
            {
                "sweep": {
                    "validation": {"size": 100, "seed": 0},
                    "pruner": {"n_startup_trials": 2, "n_warmup_steps": 1},
                    "search_space": SMALL_SPACE,
                }
            }
        )
    )
    env = {"MLFLOW_TRACKING_URI": tracking_server}
    project.kedro("run", "--pipelines", "ingestion", env=env)
    storage = f"{postgres}/optuna"
    command = [
        sys.executable, "-m", "fashion_mnist.sweep", "--project", str(project.path),
        "--storage", storage, "--study-name", "shared", "--n-trials", "8",
    ]  # fmt: skip
    workers = [
        subprocess.Popen(
            [*command, "--worker", str(worker)],
            cwd=project.path,
            env={**project.environment(), **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for worker in range(2)
    ]
    outputs = [w.communicate(timeout=900)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs

    study = optuna.load_study(study_name="shared", storage=storage)
    numbers = [t.number for t in study.trials]
    assert len(numbers) == len(set(numbers)) >= 8
    assert all(t.state.is_finished() for t in study.trials)
    client = MlflowClient(tracking_server)
    experiment = client.get_experiment_by_name("fashion_mnist")
    parents = client.search_runs(
        [experiment.experiment_id], "tags.`sweep.role` = 'parent'"
    )
    assert len(parents) == 1
    trial_runs = _trial_runs(client, parents[0].info.run_id)
    assert sorted(
        int(r.data.tags["optuna.trial_number"]) for r in trial_runs
    ) == sorted(numbers)
    assert parents[0].data.tags["best_trial_number"] == str(study.best_trial.number)
    assert parents[0].data.metrics["best_val_acc"] == pytest.approx(study.best_value)


def test_a_new_sweep_under_an_old_study_name_gets_its_own_parent_run(tmp_path):
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    first = _sweep(_config(tmp_path / "one", n_trials=2))
    first.optimize()
    first_result = first.finish()

    second = _sweep(_config(tmp_path / "two", n_trials=2, sampler_seed=1))
    second.optimize()
    second_result = second.finish()

    assert second_result.parent_run_id != first_result.parent_run_id
    client = MlflowClient()
    for result in (first_result, second_result):
        parent = client.get_run(result.parent_run_id)
        assert parent.info.status == "FINISHED"
        assert parent.data.metrics["final_test_acc"] == pytest.approx(result.test_acc)
        assert len(_trial_runs(client, result.parent_run_id)) == 2
