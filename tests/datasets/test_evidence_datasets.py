"""A run's dataset inputs and its model-linked metrics, in a throw-away store."""

from __future__ import annotations

import json
import threading

import mlflow
import pytest
from kedro.io import DatasetError
from mlflow import MlflowClient

from fashion_mnist.datasets import ModelMetricsDataset, RunInputsDataset, TableDataset
from fashion_mnist.datasets.run_file_dataset import content_digest
from fashion_mnist.tracking import run
from tests.support.synthetic import make_table


@pytest.fixture
def bound_run(mlflow_store, tmp_path):
    """An MLflow run bound as a kedro run binds it."""
    experiment = mlflow.create_experiment("evidence", (tmp_path / "artifacts").as_uri())
    run_id = mlflow.start_run(experiment_id=experiment).info.run_id
    run.bind(run_id, mlflow_store, frozenset())
    yield run_id
    run.unbind()
    mlflow.end_run()


def _tables(tmp_path):
    return {
        "fashion_mnist_train": {
            "source": str(tmp_path / "train.parquet"),
            "context": "training",
        },
        "fashion_mnist_test": {
            "source": str(tmp_path / "test.parquet"),
            "context": "evaluation",
        },
    }


def test_the_tables_a_run_read_are_its_dataset_inputs_with_digest_rows_and_context(
    bound_run, mlflow_store, tmp_path
):
    train, test = make_table(n_per_class=3, seed=1), make_table(n_per_class=2, seed=2)
    dataset = RunInputsDataset(tables=_tables(tmp_path))

    dataset.save({"fashion_mnist_train": train, "fashion_mnist_test": test})

    inputs = MlflowClient(mlflow_store).get_run(bound_run).inputs.dataset_inputs
    logged = {i.dataset.name: i for i in inputs}
    test_input = logged["fashion_mnist_test"]
    assert test_input.dataset.digest == content_digest(test)[:32]
    assert json.loads(test_input.dataset.profile)["num_rows"] == 20
    assert json.loads(test_input.dataset.source)["uri"] == str(
        tmp_path / "test.parquet"
    )
    assert "pixel_783" in test_input.dataset.schema
    assert {t.key: t.value for t in test_input.tags}[
        "mlflow.data.context"
    ] == "evaluation"
    assert {t.key: t.value for t in logged["fashion_mnist_train"].tags}[
        "mlflow.data.context"
    ] == "training"
    assert dataset.load()["fashion_mnist_train"] == content_digest(train)[:32]


def test_a_run_that_did_not_read_the_tables_takes_their_digest_from_the_files(tmp_path):
    test = make_table(n_per_class=2, seed=2)
    TableDataset(
        dataset={
            "type": "pandas.ParquetDataset",
            "filepath": str(tmp_path / "test.parquet"),
        }
    ).save(test)
    tables = {"fashion_mnist_test": _tables(tmp_path)["fashion_mnist_test"]}

    digests = RunInputsDataset(tables=tables).load()

    assert digests == {"fashion_mnist_test": content_digest(test)[:32]}


def test_a_table_file_without_a_digest_is_named_with_the_command_that_rebuilds_it(
    tmp_path,
):
    make_table(n_per_class=1).to_parquet(tmp_path / "test.parquet")
    tables = {"fashion_mnist_test": _tables(tmp_path)["fashion_mnist_test"]}

    with pytest.raises(
        DatasetError, match=r"test.parquet records no content digest; rebuild"
    ):
        RunInputsDataset(tables=tables).load()


def test_final_metrics_are_linked_to_the_logged_model_and_rank_the_models(
    bound_run, mlflow_store
):
    client = MlflowClient(mlflow_store)
    experiment = client.get_run(bound_run).info.experiment_id
    for name in ("scratch_model", "concise_model"):
        mlflow.initialize_logged_model(name=name, source_run_id=bound_run)
    records = {
        "scratch_model": 0.81,
        "concise_model": 0.84,
    }

    for name, acc in records.items():
        ModelMetricsDataset(name=name).save(
            [
                {
                    "key": "test_acc",
                    "value": acc,
                    "dataset_name": "fashion_mnist_test",
                    "dataset_digest": "d" * 32,
                }
            ]
        )

    ranked = client.search_logged_models(
        experiment_ids=[experiment],
        order_by=[{"field_name": "metrics.test_acc", "ascending": False}],
    )
    assert [m.name for m in ranked] == ["concise_model", "scratch_model"]
    (metric,) = ranked[0].metrics
    assert (metric.value, metric.dataset_name, metric.run_id) == (
        0.84,
        "fashion_mnist_test",
        bound_run,
    )


def test_nodes_logging_the_same_new_tables_at_once_each_log_them(
    bound_run, mlflow_store, tmp_path
):
    # As ThreadRunner runs two nodes that log the run's inputs: MLflow's store
    # looks each dataset up, then inserts it, so one of two writers of a new
    # dataset meets the other's row on the unique key.
    writers = 4
    tables = _tables(tmp_path)
    start = threading.Barrier(writers)
    failures = []

    def log(inputs: dict) -> None:
        start.wait()
        try:
            RunInputsDataset(tables=tables).save(inputs)
        except DatasetError as exc:
            failures.append(exc)

    for seed in range(5):  # new tables each round: new datasets to insert
        inputs = {
            "fashion_mnist_train": make_table(n_per_class=2, seed=10 * seed + 1),
            "fashion_mnist_test": make_table(n_per_class=2, seed=10 * seed + 2),
        }
        threads = [threading.Thread(target=log, args=(inputs,)) for _ in range(writers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert failures == []
    logged = MlflowClient(mlflow_store).get_run(bound_run).inputs.dataset_inputs
    assert len({(i.dataset.name, i.dataset.digest) for i in logged}) == 2 * 5
