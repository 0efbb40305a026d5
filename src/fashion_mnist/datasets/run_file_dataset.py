"""A file that a run writes whole, logs to its own MLflow run and reads back from memory."""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from kedro.io import AbstractDataset, DatasetError, MemoryDataset

from fashion_mnist.tracking import run

from .staging import staged_file

logger = logging.getLogger(__name__)

# The table's content digest, kept in the Parquet file's metadata (pandas attrs).
DIGEST_KEY = "fashion_mnist.content_sha256"


class RunFileDataset(AbstractDataset[Any, Any]):
    """Wrap any file dataset so that concurrent and interrupted runs stay apart.

    - **Whole or nothing**: the wrapped dataset writes into a private folder
      beside the target (named after the writer's pid), which is then renamed
      into place; ``kill -9`` or a full disk leaves the previous file, never
      half a file. :func:`.staging.remove_stale_temp_files` clears what killed
      runs left.
    - **Its own record**: with ``artifact_path`` set, the private copy is
      logged to the ``kedro run``'s MLflow run by id before the rename, so a
      concurrent run that writes the same path cannot swap the artifact, and a
      save in a worker thread (``--async``, ``ThreadRunner``) logs to the same
      run (kedro-mlflow #646).
    - **Its own data**: what a run saved is what it loads back, from an
      in-memory cache, however many nodes read it; a file the run did not
      compute is read from disk once.
    - **A clear error**: a file that is missing or unreadable names the file
      and the command in ``rebuild`` that makes it again.

    Example catalog entry::

        "{model}.metrics":
          type: fashion_mnist.datasets.RunFileDataset
          artifact_path: "{model}"
          rebuild: kedro run --pipelines training,evaluation
          dataset:
            type: json.JSONDataset
            filepath: data/08_reporting/{model}/metrics.json
    """

    def __init__(
        self,
        *,
        dataset: dict[str, Any],
        artifact_path: str | None = None,
        log_artifact: bool | None = None,
        rebuild: str = "kedro run",
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Create the dataset.

        Args:
            dataset: The wrapped dataset's configuration; it needs a local
                ``filepath``. It is built on first use: a run that draws no
                figure does not import matplotlib for one.
            artifact_path: Folder of the MLflow artifact (``""`` for the root).
            log_artifact: Log the file to the run; by default when
                ``artifact_path`` is given.
            rebuild: The command that makes the file again, for error messages.
            metadata: Free-form metadata, ignored by the dataset.
        """
        self._config = dict(dataset)
        if "filepath" not in self._config:
            raise DatasetError(f"{type(self).__name__} needs dataset.filepath")
        self._filepath = Path(self._config["filepath"])
        self._cache = MemoryDataset(copy_mode="assign")
        self._wrapped: AbstractDataset | None = None
        self._artifact_path = artifact_path or None
        self._log = artifact_path is not None if log_artifact is None else log_artifact
        self._rebuild = rebuild
        self.metadata = metadata

    @property
    def filepath(self) -> Path:
        """Where the file lives."""
        return self._filepath

    def _describe(self) -> dict[str, Any]:
        return {
            # kedro-viz shows "filepath" as the node's File Path.
            "filepath": str(self._filepath),
            "dataset": {k: v for k, v in self._config.items() if k != "save_args"},
            "artifact_path": self._artifact_path if self._log else None,
        }

    @property
    def preview(self) -> Callable[..., Any]:
        """The wrapped dataset's ``preview`` (a table's rows, a figure, a JSON), for kedro-viz.

        kedro-viz calls it with the entry's ``metadata.kedro-viz.preview_args``
        and reads the kind of preview from its return annotation, so this is
        the wrapped dataset's own method (its signature kept), returning
        ``None`` while the file is not written yet.

        Raises:
            AttributeError: The wrapped dataset has no preview.
        """
        wrapped = self._on_disk().preview  # AttributeError: no preview

        @functools.wraps(wrapped)
        def preview(*args: Any, **kwargs: Any) -> Any:
            return wrapped(*args, **kwargs) if self._filepath.exists() else None

        return preview

    def _exists(self) -> bool:
        return self._cache.exists() or self._filepath.exists()

    def _release(self) -> None:
        self._cache.release()
        if self._wrapped is not None:
            self._wrapped.release()

    def _on_disk(self) -> AbstractDataset:
        if self._wrapped is None:
            self._wrapped = AbstractDataset.from_config(
                self._filepath.name, self._config
            )
        return self._wrapped

    def load(self) -> Any:
        if self._cache.exists():
            return self._cache.load()
        if not self._filepath.exists():
            raise DatasetError(
                f"{self._filepath} does not exist. Make it with: {self._rebuild}"
            )
        try:
            data = self._on_disk().load()
        except Exception as exc:
            cause = exc.__cause__ or exc  # past Kedro's "Failed while loading" wrapper
            raise DatasetError(
                f"{self._filepath} is unreadable ({type(cause).__name__}: {cause}). "
                f"Rebuild it with: {self._rebuild}"
            ) from exc
        self._cache.save(data)
        return data

    def save(self, data: Any) -> None:
        self._write(data)
        self._cache.save(data)

    def _write(self, data: Any) -> None:
        """Write ``data`` whole through a staged copy, logged to the run if asked."""
        with staged_file(self._filepath) as staged_path:
            AbstractDataset.from_config(
                f"{self._filepath.name} (staged)",
                {**self._config, "filepath": str(staged_path)},
            ).save(data)
            run_id = run.current_run_id() if self._log else None
            if run_id:
                run.client().log_artifact(run_id, str(staged_path), self._artifact_path)


def content_digest(table: pd.DataFrame) -> str:
    """SHA-256 of a table's column names, dtypes, labels and pixels, in row order.

    The arrays are the ones the run's nodes use
    (:func:`fashion_mnist.schemas.table_to_arrays` converts a table once), so
    hashing costs no conversion of its own.
    """
    from fashion_mnist.schemas import table_to_arrays

    X, y = table_to_arrays(table)
    digest = hashlib.sha256()
    digest.update(json.dumps([list(map(str, table.columns))]).encode())
    digest.update(json.dumps([str(t) for t in table.dtypes]).encode())
    digest.update(y.data)
    digest.update(X.data)
    return digest.hexdigest()


class TableDataset(RunFileDataset):
    """A :class:`RunFileDataset` of a Fashion-MNIST table, rewritten only when it changed.

    The table's contract is the catalog's business: its entry declares
    ``validator: fashion_mnist.schemas.FashionMnistTable``, which Kedro runs
    on every save (before anything is written) and load.

    The file records the SHA-256 of its content. A save whose table has the
    same content as a readable file on disk does not rewrite it (the run goes
    on with the table in memory), so ingestion writes a table only when it is
    missing, unreadable or built from other inputs. Delete the file to force
    a rewrite.

    Example catalog entry::

        "fashion_mnist_{split}":
          type: fashion_mnist.datasets.TableDataset
          rebuild: kedro run --pipelines ingestion
          validator: fashion_mnist.schemas.FashionMnistTable
          dataset:
            type: pandas.ParquetDataset
            filepath: data/03_primary/fashion_mnist_{split}.parquet
    """

    def _digest_on_disk(self, rows: int, columns: list[str]) -> str | None:
        """The digest the file on disk records, if it is a readable table of that shape."""
        if not self._filepath.exists():
            return None
        import pyarrow.parquet as pq

        try:
            footer = pq.read_metadata(self._filepath)
            attrs = json.loads((footer.metadata or {}).get(b"PANDAS_ATTRS", b"{}"))
            names = [n for n in footer.schema.names if not n.startswith("__index")]
        except Exception:  # unreadable: rewrite it
            return None
        if footer.num_rows != rows or names != columns:
            return None
        return attrs.get(DIGEST_KEY)

    def save(self, data: pd.DataFrame) -> None:
        digest = content_digest(data)
        if digest == self._digest_on_disk(len(data), list(map(str, data.columns))):
            logger.info(
                "%s is up to date (same content, SHA-256 %s…): not rewritten",
                self._filepath,
                digest[:12],
            )
        else:
            stamped = data.copy(deep=False)
            stamped.attrs = {**data.attrs, DIGEST_KEY: digest}
            self._write(stamped)
        # The object whose arrays the run converted already.
        self._cache.save(data)
