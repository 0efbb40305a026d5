"""Optuna storages for in-process tests: copies of one empty SQLite storage."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path
from typing import Any

from fashion_mnist.datasets.tuning_datasets import OptunaStorageDataset


@functools.cache
def _empty_storage() -> Path:
    """An Optuna SQLite storage with its tables made and no study, made once per process.

    Making the tables costs about 0.3 s; a copy of the file costs milliseconds.
    """
    folder = Path(tempfile.mkdtemp(prefix="fmnist-empty-optuna-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = folder / "optuna.db"
    OptunaStorageDataset(
        credentials={"url": f"sqlite:///{path}"}
    ).load().engine.dispose()
    return path


def sqlite_storage(path: Path, **dataset_args: Any) -> Any:
    """The catalog's storage, ``OptunaStorageDataset(...).load()``, on a new file at ``path``.

    Args:
        path: Where the storage's SQLite file is made (it must not exist yet).
        dataset_args: Further arguments of ``OptunaStorageDataset``, e.g.
            ``heartbeat_interval`` and ``grace_period``.

    Returns:
        The ``optuna.storages.RDBStorage``, its tables made, holding no study.
    """
    if path.exists():
        raise FileExistsError(path)
    shutil.copyfile(_empty_storage(), path)
    dataset = OptunaStorageDataset(
        credentials={"url": f"sqlite:///{path}"}, **dataset_args
    )
    return dataset.load()
