"""The table and model contracts that every pipeline and the server share.

A table is checked by the catalog: ``conf/base/catalog.yml`` declares
``validator: fashion_mnist.schemas.FashionMnistTable`` on the
``fashion_mnist_{split}`` entries, and Kedro runs pandera on every load and
save. numpy and pandas only at import (pandera's backend loads when the
catalog first validates); torch only when a model is checked.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING, Any, TypedDict

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import torch

IMAGE_SHAPE = (28, 28)
FEATURES = IMAGE_SHAPE[0] * IMAGE_SHAPE[1]
NUM_CLASSES = 10
LABEL_COLUMN = "label"
PIXEL_COLUMNS = [f"pixel_{i:03d}" for i in range(FEATURES)]
REBUILD_TABLES = "Rebuild it with: kedro run --pipelines ingestion"
RETRAIN = "Retrain it with: kedro run --pipelines training"


class TableContractError(ValueError):
    """A table does not have the layout, dtypes or values of a Fashion-MNIST table."""


class ModelContractError(ValueError):
    """A model does not have the keys, shapes, dtype or values of a softmax model."""


# ---------------------------------------------------------------- the table
class _TableConfig:
    name = "fashion_mnist_table"
    strict = True  # no other column
    ordered = True  # label, then pixel_000 ... pixel_783 in this order


def _at_least_one_row(cls: Any, table: pd.DataFrame) -> bool:
    return len(table) > 0


def _every_class(cls: Any, table: pd.DataFrame) -> bool:
    return bool(np.isin(np.arange(NUM_CLASSES), table[LABEL_COLUMN].unique()).all())


def _table_model() -> type:
    """Declare :data:`FashionMnistTable`; 785 columns, built from the column list."""
    import pandera.pandas as pa
    from pandera.typing import Series

    return type(
        "FashionMnistTable",
        (pa.DataFrameModel,),
        {
            "__doc__": (
                "One row per image: ``label`` (``int64`` in 0..9), then exactly "
                "``pixel_000`` ... ``pixel_783`` in order, each ``uint8`` (raw "
                "0-255 pixels: floats in 0-1 are refused, not cast); at least one "
                "row and an image of every class. " + REBUILD_TABLES
            ),
            "__module__": __name__,
            "__annotations__": {
                LABEL_COLUMN: Series[np.int64],
                **dict.fromkeys(PIXEL_COLUMNS, Series[np.uint8]),
            },
            LABEL_COLUMN: pa.Field(
                in_range={"min_value": 0, "max_value": NUM_CLASSES - 1}
            ),
            **{column: pa.Field() for column in PIXEL_COLUMNS},
            "Config": _TableConfig,
            "at_least_one_row": pa.dataframe_check(
                _at_least_one_row,
                name="at_least_one_row",
                error=f"the table is empty (no rows). {REBUILD_TABLES}",
            ),
            "every_class": pa.dataframe_check(
                _every_class,
                name="every_class",
                error=f"every class 0..9 must have an image. {REBUILD_TABLES}",
            ),
        },
    )


def __getattr__(name: str) -> Any:
    # pandera (about 0.2 s) loads when the catalog first asks for the schema,
    # not with every ``kedro`` command that imports this module.
    if name == "FashionMnistTable":
        model = globals().setdefault("FashionMnistTable", _table_model())
        return model
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# Each table's arrays, while the table lives: the nodes of a run that read the
# same table (two trainings, two evaluations, ...) share one conversion.
_ARRAYS: dict[int, tuple[weakref.ref, np.ndarray, np.ndarray]] = {}
_ARRAYS_LOCK = threading.Lock()


def table_to_arrays(
    table: pd.DataFrame, name: str = "table"
) -> tuple[np.ndarray, np.ndarray]:
    """Split a flattened table into its pixel matrix and its label vector.

    The table was validated by the catalog (:data:`FashionMnistTable`); nothing
    is cast here.

    Args:
        table: One row per image: ``label`` (``int64`` in 0..9) and
            ``pixel_000`` ... ``pixel_783`` (``uint8``).
        name: The table's name in error messages.

    Returns:
        ``X`` of shape (n, 784), ``uint8`` in 0-255, and ``y`` of shape (n,),
        ``int64``; the same two arrays for every call on the same table object
        (tables are not modified in place; neither are these arrays).

    Raises:
        TableContractError: When ``table`` is not a DataFrame with the columns.
    """
    key = id(table)
    with _ARRAYS_LOCK:
        known = _ARRAYS.get(key)
    if known is not None and known[0]() is table:
        return known[1], known[2]
    try:
        pixels, labels = table[PIXEL_COLUMNS], table[LABEL_COLUMN]
    except (KeyError, TypeError, IndexError) as exc:
        raise TableContractError(
            f"{name} is not a Fashion-MNIST table ({exc!r}). {REBUILD_TABLES}"
        ) from None
    # Writable copies where pandas hands out read-only views (copy-on-write).
    X = np.require(pixels.to_numpy(), requirements="CW")
    y = np.require(labels.to_numpy(), requirements="W")

    def forget(ref: weakref.ref, key: int = key) -> None:
        with _ARRAYS_LOCK:
            if _ARRAYS.get(key, (None,))[0] is ref:
                del _ARRAYS[key]

    with _ARRAYS_LOCK:
        _ARRAYS[key] = (weakref.ref(table, forget), X, y)
    return X, y


# ---------------------------------------------------------------- the model
class SoftmaxWeights(TypedDict):
    """A softmax regression model in ``nn.Linear``'s layout, ``float32`` on the CPU."""

    weight: torch.Tensor  # (k, 784)
    bias: torch.Tensor  # (k,)


def check_model(model: Any, num_classes: int, source: str) -> SoftmaxWeights:
    """Check a model's keys, shapes, dtype and values: the one model check.

    Args:
        model: ``weight`` (k, 784) and ``bias`` (k,), ``float32``, finite.
        num_classes: k.
        source: What to name in the error (the file, the dataset).

    Returns:
        ``model``, unchanged.

    Raises:
        ModelContractError: Naming ``source``, each failed check and the fix.
    """
    import torch

    if not isinstance(model, dict) or not all(
        isinstance(v, torch.Tensor) for v in model.values()
    ):
        raise ModelContractError(
            f"{source} is not a valid softmax regression model: expected a dict "
            f"of tensors, got {type(model).__name__}. {RETRAIN}"
        )
    problems = []
    if set(model) != {"weight", "bias"}:
        problems.append(f"keys {sorted(model)}, expected ['bias', 'weight']")
    expected = {"weight": (num_classes, FEATURES), "bias": (num_classes,)}
    for name, shape in expected.items():
        tensor = model.get(name)
        if tensor is None:
            continue
        if tuple(tensor.shape) != shape:
            problems.append(f"{name} has shape {tuple(tensor.shape)}, expected {shape}")
        if tensor.dtype != torch.float32:
            problems.append(f"{name} has dtype {tensor.dtype}, expected torch.float32")
        elif not torch.isfinite(tensor).all():
            problems.append(f"{name} holds non-finite values (NaN or inf)")
    if problems:
        raise ModelContractError(
            f"{source} is not a valid softmax regression model: "
            + "; ".join(problems)
            + f". {RETRAIN}"
        )
    return model
