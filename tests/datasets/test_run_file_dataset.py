"""RunFileDataset: whole files, the run's own record, its own data, clear errors."""

import inspect
import subprocess
import sys
import threading

import mlflow
import pandas as pd
import pytest
from kedro.io import DataCatalog, DatasetError
from mlflow import MlflowClient

from fashion_mnist.datasets import RunFileDataset, RunMetricsDataset, TableDataset
from fashion_mnist.datasets.staging import remove_stale_temp_files
from fashion_mnist.schemas import PIXEL_COLUMNS
from fashion_mnist.tracking import run
from fashion_mnist.tracking.processes import temp_name
from tests.support.synthetic import make_table


def _csv(path, **kwargs):
    return RunFileDataset(
        dataset={
            "type": "pandas.CSVDataset",
            "filepath": str(path),
            "save_args": {"index": False},
        },
        rebuild="kedro run --pipelines training",
        **kwargs,
    )


@pytest.fixture
def bound_run(mlflow_store, tmp_path):
    """An MLflow run bound as the `kedro run`'s, the way the project's hook binds it."""
    client = MlflowClient(mlflow_store)
    # Artifacts under tmp_path, not in ./mlruns of the working folder.
    experiment = client.create_experiment(
        "records", artifact_location=(tmp_path / "artifacts").as_uri()
    )
    mlflow_run = client.create_run(experiment)
    run.bind(mlflow_run.info.run_id, mlflow_store, frozenset())
    yield mlflow_run.info.run_id
    run.unbind()


def test_a_saved_file_is_read_back_from_memory_within_the_run(tmp_path):
    dataset = _csv(tmp_path / "history.csv")
    table = pd.DataFrame({"epoch": [1, 2], "train_loss": [0.9, 0.5]})

    dataset.save(table)
    (tmp_path / "history.csv").write_text("epoch,train_loss\n1,7.0\n")  # another run

    assert dataset.load() is table
    assert _csv(tmp_path / "history.csv").load()["train_loss"].tolist() == [7.0]


def test_kedro_viz_gets_the_file_path_and_the_wrapped_datasets_preview(tmp_path):
    dataset = _csv(tmp_path / "history.csv")
    before = dataset.preview(nrows=1)

    dataset.save(pd.DataFrame({"epoch": [1, 2], "train_loss": [0.9, 0.5]}))

    # kedro-viz: File Path from _describe()["filepath"], the preview's kind
    # from the return annotation of `preview`.
    assert str(dataset).count(str(tmp_path / "history.csv")) >= 1
    kind = inspect.signature(dataset.preview).return_annotation
    assert getattr(kind, "__name__", kind) == "TablePreview"
    assert before is None
    assert dataset.preview(nrows=1) == {
        "index": [0],
        "columns": ["epoch", "train_loss"],
        "data": [[1, 0.9]],
    }


def test_a_failed_save_keeps_the_previous_file_and_leaves_no_temporary_file(tmp_path):
    dataset = _csv(tmp_path / "history.csv")
    dataset.save(pd.DataFrame({"epoch": [1]}))

    with pytest.raises(DatasetError):
        dataset.save("not a table")

    assert (tmp_path / "history.csv").read_text() == "epoch\n1\n"
    assert [p.name for p in tmp_path.iterdir()] == ["history.csv"]


def test_a_missing_or_unreadable_file_names_the_command_that_rebuilds_it(tmp_path):
    target = tmp_path / "table.parquet"
    dataset = RunFileDataset(
        dataset={"type": "pandas.ParquetDataset", "filepath": str(target)},
        rebuild="kedro run --pipelines ingestion",
    )

    with pytest.raises(
        DatasetError,
        match=r"table\.parquet does not exist\. Make it with: kedro run --pipelines ingestion",
    ):
        dataset.load()
    target.write_bytes(b"PAR1 half a file")
    with pytest.raises(
        DatasetError,
        match=r"table\.parquet is unreadable \(.*\)\. Rebuild it with: kedro run --pipelines ingestion",
    ):
        dataset.load()


def test_a_save_in_another_thread_logs_the_artifact_to_the_bound_run(
    tmp_path, bound_run
):
    dataset = _csv(tmp_path / "history.csv", artifact_path="scratch")

    saver = threading.Thread(target=dataset.save, args=(pd.DataFrame({"epoch": [1]}),))
    saver.start()
    saver.join()

    client = MlflowClient()
    assert [a.path for a in client.list_artifacts(bound_run, "scratch")] == [
        "scratch/history.csv"
    ]
    assert mlflow.active_run() is None
    assert len(client.search_runs([client.get_run(bound_run).info.experiment_id])) == 1


def test_nothing_is_logged_outside_a_kedro_run(tmp_path, mlflow_store):
    _csv(tmp_path / "history.csv", artifact_path="scratch").save(
        pd.DataFrame({"epoch": [1]})
    )

    assert mlflow.search_runs(search_all_experiments=True).empty


def _table_catalog(target) -> DataCatalog:
    """A catalog entry as conf/base/catalog.yml declares the tables: validated by pandera."""
    return DataCatalog.from_config(
        {
            "fashion_mnist_train": {
                "type": "fashion_mnist.datasets.TableDataset",
                "rebuild": "kedro run --pipelines ingestion",
                "validator": "fashion_mnist.schemas.FashionMnistTable",
                "dataset": {"type": "pandas.ParquetDataset", "filepath": str(target)},
            }
        }
    )


def test_a_table_breaking_its_contract_is_refused_before_anything_is_written(tmp_path):
    target = tmp_path / "fashion_mnist_train.parquet"
    table = make_table(n_per_class=2)
    floats = table.copy()
    floats[PIXEL_COLUMNS] = table[PIXEL_COLUMNS].astype("float64") / 255

    with pytest.raises(DatasetError, match=r"(?s)fashion_mnist_train.*uint8"):
        _table_catalog(target).save("fashion_mnist_train", floats)
    assert not target.exists()
    _table_catalog(target).save("fashion_mnist_train", table)
    floats.to_parquet(target)
    with pytest.raises(DatasetError, match=r"(?s)fashion_mnist_train.*uint8"):
        _table_catalog(target).load("fashion_mnist_train")


def test_only_temporary_files_of_dead_processes_are_removed(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    stale = tmp_path / "03_primary" / f".tmp-{dead.stdout.strip()}-1-train.parquet"
    live = tmp_path / "03_primary" / temp_name("test.parquet")
    stale.mkdir(parents=True)
    (stale / "train.parquet").write_bytes(b"half")
    live.mkdir()

    removed = remove_stale_temp_files(tmp_path)

    assert removed == [stale]
    assert not stale.exists() and live.exists()


def test_metric_histories_from_another_thread_go_to_the_bound_run_in_order(bound_run):
    history = {
        "train_loss": [{"step": 1, "value": 0.9}, {"step": 2, "value": 0.5}],
        "final.test_acc": [{"step": 2, "value": 0.8}],
    }
    dataset = RunMetricsDataset(prefix="scratch")

    saver = threading.Thread(target=dataset.save, args=(history,))
    saver.start()
    saver.join()

    client = MlflowClient()
    losses = client.get_metric_history(bound_run, "scratch.train_loss")
    assert [(m.step, m.value) for m in losses] == [(1, 0.9), (2, 0.5)]
    assert client.get_run(bound_run).data.metrics["scratch.final.test_acc"] == 0.8
    assert len(client.search_runs([client.get_run(bound_run).info.experiment_id])) == 1


def _table_dataset(path):
    return TableDataset(
        dataset={"type": "pandas.ParquetDataset", "filepath": str(path)}
    )


def test_a_table_with_the_same_content_is_not_rewritten(tmp_path):
    target = tmp_path / "fashion_mnist_train.parquet"
    table = make_table(n_per_class=3, seed=1)
    _table_dataset(target).save(table)
    written = target.stat()

    fresh = _table_dataset(target)
    fresh.save(table.copy())

    assert target.stat().st_ino == written.st_ino
    assert target.stat().st_mtime_ns == written.st_mtime_ns
    pd.testing.assert_frame_equal(fresh.load(), table)  # from memory, this run's
    pd.testing.assert_frame_equal(_table_dataset(target).load(), table, check_like=True)


def test_a_table_is_rewritten_when_its_content_changed_or_its_file_is_unreadable(
    tmp_path,
):
    target = tmp_path / "fashion_mnist_train.parquet"
    first, second = make_table(n_per_class=3, seed=1), make_table(n_per_class=3, seed=2)
    _table_dataset(target).save(first)

    _table_dataset(target).save(second)
    changed = pd.read_parquet(target)
    target.write_bytes(b"not parquet at all")
    _table_dataset(target).save(second)

    pd.testing.assert_frame_equal(changed, second, check_like=True)
    pd.testing.assert_frame_equal(pd.read_parquet(target), second, check_like=True)
