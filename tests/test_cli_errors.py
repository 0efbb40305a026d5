"""What ``kedro run`` says to a bad option, YAML file or parameter, and the run it names.

Kedro's own CLI, run in this process through click's ``CliRunner`` in a
synthetic project copy: the exit status and the ``Error:`` line are what a
user's terminal shows, and the copy's MLflow store shows that no run exists
(and, for each refusal, that its file was not written at all).
"""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner
from kedro.framework.cli.cli import KedroCLI

from fashion_mnist.__main__ import main
from tests.support.project import inside, make_synthetic_project
from tests.support.runs import client_for, runs

PIPELINES = (
    "__default__, evaluation, inference, ingestion, registry, reporting, retrain, "
    "training, tuning"
)
DEFAULT_NODES = (
    "check_thresholds, compare_models, concise.evaluate_model, "
    "concise.keep_predicted_classes, concise.link_metrics_to_model, "
    "concise.plot_confusion_matrix, concise.plot_learning_curves, "
    "concise.plot_prediction_grid, concise.predict_test, concise.track_metrics, "
    "concise.train, flatten_test, flatten_train, log_data_inputs, "
    "log_training_inputs, plot_models_learning_curves, register_models, "
    "scratch.evaluate_model, scratch.keep_predicted_classes, "
    "scratch.link_metrics_to_model, scratch.plot_confusion_matrix, "
    "scratch.plot_learning_curves, scratch.plot_prediction_grid, "
    "scratch.predict_test, scratch.track_metrics, scratch.train"
)
DEFAULT_TAGS = "concise, evaluation, ingestion, registry, reporting, scratch, training"
SEED_RANGE = (
    "is outside what torch.Generator.manual_seed takes: use a whole number from 0 "
    "to 2**64 - 1 (18446744073709551615)"
)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    project = make_synthetic_project(
        tmp_path_factory.mktemp("cli") / "project", store=True
    )
    conf = project.path / "conf"
    (conf / "broken").mkdir()
    (conf / "broken" / "parameters_training.yml").write_text(
        "training:\n  lr: [0.1\n  seed: 0\n"
    )
    # conf/local points the raw data at the synthetic files; an env replaces it.
    shutil.copytree(conf / "local", conf / "staging")
    return project


def _kedro(project, *args: str):
    with inside(project.path):
        return CliRunner().invoke(KedroCLI(project.path), list(args))


def _error_line(result) -> str:
    return result.stderr.strip().splitlines()[-1]


def _refusals(project, *cases: tuple[str, ...]) -> tuple[dict, bool]:
    """Each ``kedro run CASE``'s result, and whether the MLflow store's file is as it was."""
    store = project.path / "mlflow.db"
    before = store.read_bytes()
    results = {args: _kedro(project, "run", *args) for args in cases}
    return results, store.read_bytes() == before


def test_a_missing_env_a_misspelt_one_and_an_unknown_pipeline_each_get_one_sentence(
    project,
):
    conf = project.path / "conf"
    expected = {
        ("--env", "tuned"): (
            "Error: Invalid value for '--env': there is no configuration environment "
            f"'tuned' (no folder {conf / 'tuned'}): run `make sweep` first, which "
            "writes it, or choose one of base, broken, local, staging."
        ),
        ("--env", "prodd"): (
            "Error: Invalid value for '--env': there is no configuration environment "
            f"'prodd' (no folder {conf / 'prodd'}); choose one of base, broken, "
            "local, staging."
        ),
        ("--env", "lcal"): (
            "Error: Invalid value for '--env': there is no configuration environment "
            f"'lcal' (no folder {conf / 'lcal'}); choose one of base, broken, local, "
            "staging (did you mean 'local'?)."
        ),
        ("--pipelines", "trainig"): (
            "Error: Invalid value for '--pipelines': there is no pipeline 'trainig'; "
            f"choose one of {PIPELINES} (did you mean 'training'?)."
        ),
    }

    results = {args: _kedro(project, "run", *args) for args in expected}

    assert {args: r.exit_code for args, r in results.items()} == dict.fromkeys(
        expected, 2
    )
    assert {args: _error_line(r) for args, r in results.items()} == expected
    assert runs(client_for(project.path)) == []


def test_a_yaml_error_names_the_file_and_its_line_before_any_run(project):
    result = _kedro(project, "run", "--env", "broken")

    assert result.exit_code == 1
    assert _error_line(result) == (
        "Error: conf/broken/parameters_training.yml, line 3, column 7, is not valid "
        "YAML (did not find expected ',' or ']' while parsing a flow sequence from "
        "line 2, column 7); fix it, nothing was run."
    )
    assert runs(client_for(project.path)) == []


def test_an_unknown_node_is_refused_naming_the_nodes_of_the_pipelines_asked_for(
    project,
):
    expected = {
        ("--nodes", "nosuch_node"): (
            "Error: Invalid value for '--nodes': there is no node 'nosuch_node' in "
            f"pipeline __default__; choose one of {DEFAULT_NODES}."
        ),
        ("--pipelines", "training", "--from-nodes", "train"): (
            "Error: Invalid value for '--from-nodes': there is no node 'train' in "
            "pipeline training; choose one of concise.train, log_training_inputs, "
            "scratch.train (did you mean 'concise.train' or 'scratch.train'?)."
        ),
        ("--pipelines", "ingestion", "--to-nodes", "flaten_test"): (
            "Error: Invalid value for '--to-nodes': there is no node 'flaten_test' in "
            "pipeline ingestion; choose one of flatten_test, flatten_train (did you "
            "mean 'flatten_test'?)."
        ),
    }

    results, store_kept = _refusals(project, *expected)

    assert {a: r.exit_code for a, r in results.items()} == dict.fromkeys(expected, 2)
    assert {args: _error_line(r) for args, r in results.items()} == expected
    assert store_kept
    assert runs(client_for(project.path)) == []


def test_a_tag_that_selects_no_node_is_refused_naming_the_tags_there_are(project):
    expected = {
        ("--tags", "nosuch"): (
            "Error: Invalid value for '--tags': no node of pipeline __default__ has "
            f"the tag 'nosuch'; choose one of {DEFAULT_TAGS}."
        ),
        ("--pipelines", "training", "--tags", "scrach"): (
            "Error: Invalid value for '--tags': no node of pipeline training has the "
            "tag 'scrach'; choose one of concise, scratch, training (did you mean "
            "'scratch'?)."
        ),
    }

    results, store_kept = _refusals(project, *expected)

    assert {a: r.exit_code for a, r in results.items()} == dict.fromkeys(expected, 2)
    assert {args: _error_line(r) for args, r in results.items()} == expected
    assert store_kept
    assert runs(client_for(project.path)) == []


def test_filters_that_each_select_nodes_but_none_together_are_refused(project):
    args = ("--pipelines", "training", "--tags", "scratch", "--nodes", "concise.train")

    results, store_kept = _refusals(project, args)

    assert results[args].exit_code == 1
    assert _error_line(results[args]) == (
        "Error: --nodes concise.train --tags scratch leave no node of pipeline "
        "training to run: each selects nodes, but no node meets them all; widen one "
        "of them, nothing was run."
    )
    assert store_kept
    assert runs(client_for(project.path)) == []


def test_an_unknown_or_refused_runner_is_refused_naming_the_runners_to_use(project):
    # ParallelRunner is Kedro's, but the project refuses it: not offered.
    runners = "SequentialRunner, ThreadRunner"
    expected = {
        ("--runner", "ParallelRunner"): (
            "Error: Invalid value for '--runner': ParallelRunner is not supported by "
            "this project: its worker processes cannot log to the run's MLflow "
            "record, nor share the in-memory results that keep concurrent runs "
            "apart. Nothing was run. Use SequentialRunner (the default, also with "
            "--async) or ThreadRunner, e.g. kedro run --runner ThreadRunner."
        ),
        ("--runner", "Foo"): (
            "Error: Invalid value for '--runner': there is no runner 'Foo' in "
            f"kedro.runner; choose one of {runners}."
        ),
        ("--runner", "SequentialRuner"): (
            "Error: Invalid value for '--runner': there is no runner "
            f"'SequentialRuner' in kedro.runner; choose one of {runners} (did you "
            "mean 'SequentialRunner'?)."
        ),
    }

    results, store_kept = _refusals(project, *expected)

    assert {a: r.exit_code for a, r in results.items()} == dict.fromkeys(expected, 2)
    assert {args: _error_line(r) for args, r in results.items()} == expected
    assert store_kept
    assert runs(client_for(project.path)) == []


def test_a_seed_beyond_torchs_range_is_refused_before_any_run(project):
    args = ("--params", "training.seed=18446744073709551616")

    results, store_kept = _refusals(project, args)

    result = results[args]
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "Error: training.seed = 18446744073709551616: seed 18446744073709551616 "
        f"{SEED_RANGE}; fix it in conf/ or with --params, nothing was run."
    )
    assert "Traceback" not in result.output
    assert store_kept
    assert runs(client_for(project.path)) == []


def test_several_bad_parameters_are_each_named_in_one_error(project):
    args = (
        "--pipelines",
        "tuning",
        "--params",
        "training.lr=-1,training.seed=-3,tuning.search_space.lr.low=abc",
    )

    results, store_kept = _refusals(project, args)

    result = results[args]
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "Error: 3 parameter values are invalid; fix each in conf/ or with --params, "
        "nothing was run:",
        "  - training.lr = -1: Input should be greater than 0",
        f"  - training.seed = -3: seed -3 {SEED_RANGE}",
        "  - tuning.search_space.lr.low = 'abc': must be a number",
    ]
    assert "Traceback" not in result.output
    assert store_kept
    assert runs(client_for(project.path)) == []


def test_python_m_fashion_mnist_refuses_as_kedro_run_does(project, capsys):
    # `python -m fashion_mnist` and the wheel's `fashion-mnist` script call main().
    cases = {("--runner", "Foo"): 2, ("--params", "training.seed=-1"): 1}
    store = project.path / "mlflow.db"
    before = store.read_bytes()
    kedro, _ = _refusals(project, *cases)
    refused = {}

    for args in cases:
        with inside(project.path), pytest.raises(SystemExit) as exited:
            main(list(args))
        refused[args] = (exited.value.code, capsys.readouterr().err.splitlines()[-1])

    assert refused == {
        args: (code, _error_line(kedro[args])) for args, code in cases.items()
    }
    assert store.read_bytes() == before
    assert runs(client_for(project.path)) == []


def test_a_run_in_another_env_leads_its_name_with_it_and_its_command_says_it(
    project,
):
    result = _kedro(project, "run", "--env", "staging", "--pipelines", "ingestion")

    assert result.exit_code == 0, result.output
    (run,) = runs(client_for(project.path))
    assert run.info.run_name == "--env=staging ingestion"
    assert run.data.tags["kedro_command"] == (
        "kedro run --env=staging --pipelines=ingestion"
    )
