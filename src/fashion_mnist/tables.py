"""The layout of the flattened Fashion-MNIST tables, shared by every pipeline."""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

IMAGE_SHAPE = (28, 28)
LABEL_COLUMN = "label"
PIXEL_COLUMNS = [f"pixel_{i:03d}" for i in range(IMAGE_SHAPE[0] * IMAGE_SHAPE[1])]


# Each table's arrays, while the table lives: the nodes of a run that read the
# same table (two trainings, two evaluations, ...) share one conversion.
_ARRAYS: dict[int, tuple[weakref.ref, np.ndarray, np.ndarray]] = {}
_ARRAYS_LOCK = threading.Lock()


def table_to_arrays(
    table: pd.DataFrame, name: str = "table"
) -> tuple[np.ndarray, np.ndarray]:
    """Split a flattened table into its pixel matrix and its label vector.

    Nothing is cast: a table whose pixels are not ``uint8`` (floats in 0–1, say)
    or whose labels are not ``int64`` in 0..9 is refused, not converted.

    Args:
        table: One row per image: ``label`` (``int64`` in 0..9) and
            ``pixel_000`` … ``pixel_783`` (``uint8``), nothing else.
        name: The table's name in error messages.

    Returns:
        ``X`` of shape (n, 784), ``uint8`` in 0–255, and ``y`` of shape (n,),
        ``int64``; the same two arrays for every call on the same table object
        (tables are not modified in place; neither are these arrays).

    Raises:
        fashion_mnist.contracts.TableContractError: When the table breaks the
            contract (a ``ValueError`` naming the table and the failed check).
    """
    # Imported here: contracts imports this module's column names, and every
    # ``kedro`` command imports this module (numpy only when a node runs).
    import numpy as np  # noqa: PLC0415

    from fashion_mnist.contracts import check_table  # noqa: PLC0415

    key = id(table)
    with _ARRAYS_LOCK:
        known = _ARRAYS.get(key)
    if known is not None and known[0]() is table:
        return known[1], known[2]
    check_table(table, name)
    # Writable copies where pandas hands out read-only views (copy-on-write).
    X = np.require(table[PIXEL_COLUMNS].to_numpy(), requirements="CW")
    y = np.require(table[LABEL_COLUMN].to_numpy(), requirements="W")

    def forget(ref: weakref.ref, key: int = key) -> None:
        with _ARRAYS_LOCK:
            if _ARRAYS.get(key, (None,))[0] is ref:
                del _ARRAYS[key]

    with _ARRAYS_LOCK:
        _ARRAYS[key] = (weakref.ref(table, forget), X, y)
    return X, y
