"""The MLflow record of a `kedro run`: whole and true, whichever runner or slice ran.

Real `kedro` processes where the process is the point (two at once, an exit
status); a session in this process for the rest (another runner, a partial
run, node tags). Each test works in its own copy of the small synthetic
project, or reads one that a fixture made, and finds its runs by name. None
needs the real data: what a record holds does not depend on it.
"""

from __future__ import annotations

import mlflow
import pandas as pd
import pytest
from kedro.runner import SequentialRunner, ThreadRunner

from fashion_mnist.params import MODELS
from fashion_mnist.schemas import LABEL_COLUMN, PIXEL_COLUMNS
from tests.support.project import (
    SYNTHETIC_TRAINING,
    ProjectCopy,
)
from tests.support.runs import (
    artifact_table,
    artifact_text,
    assert_complete_record,
    client_for,
    finish,
    logged_models,
    run_named,
    runs,
    start_kedro,
)

pytestmark = pytest.mark.slow

EPOCHS = SYNTHETIC_TRAINING["num_epochs"]
TABLES = ("01_raw", "03_primary")
FINALS = ["train_loss", "train_acc", "test_loss", "test_acc"]


def _final_metrics(run) -> dict[str, float]:
    return {
        f"{m}.final.{k}": run.data.metrics[f"{m}.final.{k}"]
        for m in MODELS
        for k in FINALS
    }


def _model_accuracy(client, run, test: pd.DataFrame) -> dict[str, float]:
    """Each logged model's accuracy on the test table, loaded back through pyfunc."""
    mlflow.set_tracking_uri(client.tracking_uri)
    images = test[PIXEL_COLUMNS].to_numpy()
    accuracy = {}
    for name, model in logged_models(client, run).items():
        predicted = mlflow.pyfunc.load_model(model.model_uri).predict(images)
        accuracy[name] = float(
            (
                predicted["class_index"].to_numpy() == test[LABEL_COLUMN].to_numpy()
            ).mean()
        )
    return accuracy


@pytest.fixture(scope="module")
def runs_at_once(tmp_path_factory, synthetic_run) -> tuple[ProjectCopy, list[str]]:
    """Two `kedro run` processes started together in a copy with no tables and no store.

    Returns the copy and the two processes' output (the default run's first).
    """
    project = synthetic_run.copy(tmp_path_factory.mktemp("at-once") / "project")
    started = [
        start_kedro(project.path, "run"),
        start_kedro(project.path, "run", "--params", "training.lr=0.3"),
    ]
    results = [finish(process, log, timeout=300) for process, log in started]
    assert [rc for rc, _ in results] == [0, 0], "\n".join(o[-3000:] for _, o in results)
    return project, [output for _, output in results]


def test_two_runs_at_once_each_record_only_what_they_computed(
    runs_at_once, tmp_path, synthetic_run
):
    project, _ = runs_at_once
    alone = synthetic_run.copy(tmp_path / "alone", TABLES, store=True)
    alone.run(runtime_params={"training": {"lr": 0.3}})

    client = client_for(project.path)
    together = {
        "defaults": run_named(client, "defaults __default__"),
        "lr=0.3": run_named(client, "training.lr=0.3 __default__"),
    }
    references = {
        "defaults": (
            client_for(synthetic_run.path),
            run_named(client_for(synthetic_run.path), "defaults __default__"),
        ),
        "lr=0.3": (
            client_for(alone.path),
            run_named(client_for(alone.path), "training.lr=0.3 __default__"),
        ),
    }
    primary = project.path / "data/03_primary"
    test = pd.read_parquet(primary / "fashion_mnist_test.parquet")

    # The embedded store was created once by the two runs that started together.
    assert sorted(e.name for e in client.search_experiments()) == [
        "Default",
        "fashion_mnist",
    ]
    assert len(runs(client)) == 2
    assert len(pd.read_parquet(primary / "fashion_mnist_train.parquet")) == 400
    assert len(test) == 100
    assert not list((project.path / "data").rglob(".tmp-*"))
    lrs = {"defaults": str(SYNTHETIC_TRAINING["lr"]), "lr=0.3": "0.3"}
    for key, run in together.items():
        ref_client, reference = references[key]
        assert run.info.status == "FINISHED"
        assert_complete_record(
            client, run, epochs=EPOCHS, params={"training.lr": lrs[key]}
        )
        assert _final_metrics(run) == _final_metrics(reference)
        for path in ["scratch/metrics.json", "concise/history.csv"]:
            assert artifact_text(client, run.info.run_id, path, tmp_path / key) == (
                artifact_text(
                    ref_client, reference.info.run_id, path, tmp_path / f"ref-{key}"
                )
            )
        comparison = artifact_table(
            client, run.info.run_id, "model_comparison.csv", tmp_path / key
        )
        for row in comparison.itertuples():
            assert row.test_acc == run.data.metrics[f"{row.model}.final.test_acc"]
            assert row.trained_in_run == run.info.run_id
        accuracy = _model_accuracy(client, run, test)
        for model in MODELS:
            assert accuracy[f"{model}_model"] == pytest.approx(
                run.data.metrics[f"{model}.final.test_acc"], abs=1e-12
            )
    assert (
        together["defaults"].data.metrics["scratch.final.train_loss"]
        != together["lr=0.3"].data.metrics["scratch.final.train_loss"]
    )


def test_the_record_reads_well_in_the_mlflow_ui(runs_at_once):
    project, outputs = runs_at_once
    client = client_for(project.path)

    run = run_named(client, "defaults __default__")

    experiment = client.get_experiment_by_name("fashion_mnist")
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    # The UI draws a key's part before its last "/" as a chart section: the
    # learning curves only, so a class name ("T-shirt/top") makes none.
    sections = {key.rpartition("/")[0] for key in run.data.metrics if "/" in key}
    assert sections == {f"{model}.learning_curves" for model in MODELS}
    assert "scratch.final.test_acc.T-shirt_top" in run.data.metrics
    assert run.data.tags["runner"] == "SequentialRunner"
    for noise in ["Add type hints", "register_new_resolver", "AnyType"]:
        assert not [output for output in outputs if noise in output]


@pytest.mark.parametrize(
    ("runner", "name"),
    [(SequentialRunner(is_async=True), "--async"), (ThreadRunner(), "ThreadRunner")],
    ids=["async", "thread"],
)
def test_every_runner_gives_one_run_holding_everything(
    tmp_path, synthetic_run, runner, name
):
    project = synthetic_run.copy(tmp_path / "project", TABLES, store=True)

    project.run(runner=runner)

    client = client_for(project.path)
    (run,) = runs(client)
    assert run.info.status == "FINISHED"
    assert run.info.run_name == f"{name} __default__"
    assert_complete_record(client, run, epochs=EPOCHS)


@pytest.fixture(scope="module")
def partial_project(tmp_path_factory, synthetic_run):
    """A project copy after one full run, then a run from `scratch.train` on."""
    project = synthetic_run.copy(
        tmp_path_factory.mktemp("partial") / "project", TABLES, store=True
    )
    project.run()
    project.run(runtime_params={"training": {"lr": 0.3}}, from_nodes=["scratch.train"])
    return project


def test_a_partial_run_says_what_ran_in_its_name_and_tags(partial_project):
    client = client_for(partial_project.path)
    full = run_named(client, "defaults __default__")
    partial = run_named(
        client, "training.lr=0.3 --from-nodes=scratch.train __default__"
    )

    tags = partial.data.tags
    assert tags["kedro.partial"] == "true"
    assert full.data.tags["kedro.partial"] == "false"
    assert tags["kedro.from-nodes"] == "scratch.train"
    assert tags["kedro.params"] == "training.lr=0.3"
    assert tags["runner"] == "SequentialRunner"


def test_a_partial_run_credits_the_model_it_did_not_train_to_the_earlier_run(
    partial_project, tmp_path
):
    client = client_for(partial_project.path)
    full = run_named(client, "defaults __default__")
    partial = run_named(
        client, "training.lr=0.3 --from-nodes=scratch.train __default__"
    )

    comparison = artifact_table(
        client, partial.info.run_id, "model_comparison.csv", tmp_path
    ).set_index("model")

    assert comparison.loc["scratch", "trained_in_run"] == partial.info.run_id
    assert comparison.loc["concise", "trained_in_run"] == full.info.run_id
    assert partial.data.tags["fashion_mnist.model_source.concise"] == full.info.run_id
    assert partial.data.tags["fashion_mnist.model_source.scratch"] == "this run"
    assert (
        comparison.loc["concise", "test_acc"]
        == full.data.metrics["concise.final.test_acc"]
    )


def test_node_tags_select_one_model_or_one_stage(tmp_path, synthetic_run):
    project = synthetic_run.copy(tmp_path / "project", TABLES, store=True)

    project.run(runtime_params={"evaluation": {"on_failure": "warn"}}, tags=["scratch"])

    (run,) = runs(client_for(project.path))
    assert run.info.run_name == "evaluation.on_failure=warn --tags=scratch __default__"
    assert "scratch.final.test_acc" in run.data.metrics
    assert not any(key.startswith("concise.") for key in run.data.metrics)
    assert run.data.tags["kedro.tags"] == "scratch"
