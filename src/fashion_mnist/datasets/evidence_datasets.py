"""What a run's numbers rest on, in MLflow's own places: dataset inputs, model-linked metrics."""

from __future__ import annotations

import hashlib
import json
import logging
import time
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
from kedro.io import AbstractDataset, DatasetError

from fashion_mnist.schemas import LABEL_COLUMN
from fashion_mnist.tracking import run

from .run_file_dataset import DIGEST_KEY, content_digest

logger = logging.getLogger(__name__)

# MLflow keeps at most 36 characters of a dataset digest: 128 bits of the SHA-256.
DIGEST_CHARS = 32
CONTEXT_TAG = "mlflow.data.context"


def _digest(table: pd.DataFrame) -> str:
    """A Fashion-MNIST table's :func:`.content_digest`; another table's (the
    converted images of an inference run) SHA-256 of its columns, dtypes and
    pandas' row hashes."""
    if LABEL_COLUMN in table.columns:
        return content_digest(table)
    digest = hashlib.sha256()
    digest.update(json.dumps([list(map(str, table.columns))]).encode())
    digest.update(json.dumps([str(t) for t in table.dtypes]).encode())
    digest.update(pd.util.hash_pandas_object(table, index=False).to_numpy().data)
    return digest.hexdigest()


def logged_model_id(client, run_id: str, name: str) -> str | None:
    """The id of the model named ``name`` that run ``run_id`` logged, or ``None``."""
    experiment_id = client.get_run(run_id).info.experiment_id
    found = client.search_logged_models(
        experiment_ids=[experiment_id],
        filter_string=f"source_run_id = '{run_id}' AND name = '{name}'",
        max_results=1,
    )
    return found[0].model_id if found else None


def _log_inputs(client, run_id: str, inputs: list) -> None:
    """``client.log_inputs``, tried again once when another writer added the same dataset.

    MLflow's stores look each dataset up, then insert it: of two writers of a
    new dataset at once (two nodes under ``ThreadRunner``, two runs of the
    experiment), one meets the other's row on the unique key. Tried again, it
    finds that row and links it.
    """
    from mlflow.exceptions import MlflowException

    try:
        client.log_inputs(run_id, datasets=inputs)
    except MlflowException as exc:
        text = str(exc).lower()
        if "unique" not in text and "duplicate" not in text:
            raise
        client.log_inputs(run_id, datasets=inputs)


class RunInputsDataset(AbstractDataset[dict[str, pd.DataFrame], dict[str, str]]):
    """Log the tables a run read as its MLflow dataset inputs; load their digests.

    Saving ``{name: table}`` logs each table as a dataset input of the ``kedro
    run``'s MLflow run: its name, content digest (the first 32 hex digits of
    the SHA-256 of :func:`.run_file_dataset.content_digest`), source path,
    schema, row count, and the context tag (``training``, ``evaluation``) of
    its entry in ``tables``. Loading gives each table's digest: the one saved
    in this run, else the one the Parquet file records.

    Example catalog entry::

        data_inputs:
          type: fashion_mnist.datasets.RunInputsDataset
          tables:
            fashion_mnist_train:
              source: data/03_primary/fashion_mnist_train.parquet
              context: training
    """

    def __init__(
        self,
        *,
        tables: dict[str, dict[str, str]],
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Create the dataset.

        Args:
            tables: Per dataset name, its ``source`` (the file it is read
                from) and ``context`` (the MLflow input context tag).
            metadata: Free-form metadata, ignored by the dataset.
        """
        self._tables = {name: dict(spec) for name, spec in tables.items()}
        self._digests: dict[str, str] = {}
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"tables": self._tables}

    def load(self) -> dict[str, str]:
        return {
            name: self._digests.get(name) or self._recorded_digest(name)
            for name in self._tables
        }

    def _recorded_digest(self, name: str) -> str:
        import pyarrow.parquet as pq

        source = self._tables[name]["source"]
        try:
            footer = pq.read_metadata(source).metadata or {}
            digest = json.loads(footer.get(b"PANDAS_ATTRS", b"{}")).get(DIGEST_KEY)
        except (OSError, ValueError) as exc:
            raise DatasetError(
                f"Cannot read the digest of {source} ({exc}); make the table with: "
                "kedro run --pipelines ingestion"
            ) from None
        if not digest:
            raise DatasetError(
                f"{source} records no content digest; rebuild it with: "
                "kedro run --pipelines ingestion"
            )
        return digest[:DIGEST_CHARS]

    def save(self, data: dict[str, pd.DataFrame]) -> None:
        import mlflow.data
        from mlflow.entities import Dataset, DatasetInput, InputTag

        inputs = []
        for name, table in data.items():
            spec = self._tables[name]
            self._digests[name] = _digest(table)[:DIGEST_CHARS]
            with warnings.catch_warnings():
                # A local path resolves to one source type, though MLflow warns it
                # could be two; integer columns draw a hint meant for model schemas.
                warnings.simplefilter("ignore", UserWarning)
                described = mlflow.data.from_pandas(
                    table.head(0),
                    source=str(Path(spec["source"]).resolve()),
                    name=name,
                    digest=self._digests[name],
                ).to_dict()
            # The schema comes from the empty head; the profile counts the whole table.
            described["profile"] = json.dumps(
                {"num_rows": len(table), "num_elements": int(table.size)}
            )
            inputs.append(
                DatasetInput(
                    Dataset(**described), tags=[InputTag(CONTEXT_TAG, spec["context"])]
                )
            )
        run_id = run.current_run_id()
        if run_id:
            _log_inputs(run.client(), run_id, inputs)


class ModelMetricsDataset(AbstractDataset[list[dict[str, Any]], None]):
    """Save-only: log a model's final metrics to the run, linked to its logged model.

    Each record (``key``, ``value``, ``dataset_name``, ``dataset_digest``) is
    logged to the ``kedro run``'s MLflow run with the ``model_id`` of the model
    this run logged as ``name``, in one request, so the experiment's logged
    models show and rank by them (``mlflow.search_logged_models(order_by=
    [{"field_name": "metrics.test_acc"}])``). A model this run did not log
    (``kedro run --from-nodes`` past its training) has its metrics logged to
    nothing: the run that logged it linked them.

    Example catalog entry::

        "{model}.model_metrics":
          type: fashion_mnist.datasets.ModelMetricsDataset
          name: "{model}_model"
    """

    def __init__(self, *, name: str, metadata: dict[str, Any] | None = None) -> None:
        """Create the dataset.

        Args:
            name: The logged model's name in this run (``scratch_model``).
            metadata: Free-form metadata, ignored by the dataset.
        """
        self._name = name
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"name": self._name}

    def load(self) -> None:
        raise DatasetError(f"{type(self).__name__} is save-only")

    def save(self, data: list[dict[str, Any]]) -> None:
        from mlflow.entities import Metric

        run_id = run.current_run_id()
        if run_id is None:
            return
        client = run.client()
        model_id = logged_model_id(client, run_id, self._name)
        if model_id is None:
            logger.warning(
                "This run logged no model %r: its final metrics are not linked to one",
                self._name,
            )
            return
        now = int(time.time() * 1000)
        client.log_batch(
            run_id,
            metrics=[
                Metric(
                    record["key"],
                    record["value"],
                    now,
                    0,
                    model_id=model_id,
                    dataset_name=record["dataset_name"],
                    dataset_digest=record["dataset_digest"],
                )
                for record in data
            ],
        )
