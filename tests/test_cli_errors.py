"""What ``kedro run`` says to a bad ``--env``, ``--pipelines``, YAML file or seed, and the run it names.

Kedro's own CLI, run in this process through click's ``CliRunner`` in a
synthetic project copy: the exit status and the ``Error:`` line are what a
user's terminal shows, and the copy's MLflow store shows that no run exists.
"""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner
from kedro.framework.cli.cli import KedroCLI
from kedro.validation.exceptions import ParameterValidationError

from tests.support.project import inside, make_synthetic_project
from tests.support.runs import client_for, runs

PIPELINES = (
    "__default__, evaluation, inference, ingestion, registry, reporting, retrain, "
    "training, tuning"
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


def test_a_seed_beyond_torchs_range_is_refused_before_any_run(project):
    result = _kedro(project, "run", "--params", "training.seed=18446744073709551616")

    assert result.exit_code == 1
    assert isinstance(result.exception, ParameterValidationError)
    assert (
        "seed 18446744073709551616 is outside what torch.Generator.manual_seed "
        "takes: use a whole number from 0 to 2**64 - 1 (18446744073709551615)"
    ) in str(result.exception)
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
