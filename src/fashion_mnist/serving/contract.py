"""The served model's request contract: raw pixels in, one short sentence when not.

A request is a batch of images as a tensor (``inputs`` or ``instances``: (n, 784)
or (n, 28, 28)) or a table that names the 784 pixel columns in any order; each
value an integer 0-255. Messages are ASCII, under 300 bytes, and never echo the
input.
"""

from __future__ import annotations

import json
from io import BytesIO
from typing import Any

import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

from fashion_mnist.schemas import FEATURES, IMAGE_SHAPE, PIXEL_COLUMNS

INPUT_CONTRACT = (
    "raw pixels, integers 0-255: a tensor (n, 784) or (n, 28, 28) in `inputs`, "
    f"or a table naming the columns {PIXEL_COLUMNS[0]}..{PIXEL_COLUMNS[-1]}"
)
_PIXELS = frozenset(PIXEL_COLUMNS)
TENSOR_KEYS = ("inputs", "instances")
TABLE_KEYS = ("dataframe_split", "dataframe_records")
# The content types MLflow's scoring server reads.
CONTENT_TYPES = ("application/json", "text/csv", "application/vnd.apache.parquet")


class RequestContractError(MlflowException):
    """A request that breaks the input contract: the scoring server answers 400."""

    def __init__(self, message: str) -> None:
        super().__init__(message, error_code=INVALID_PARAMETER_VALUE)


def _few(names: list[Any], shown: int = 3) -> str:
    listed = ", ".join(str(n)[:20] for n in names[:shown])
    return listed + (", ..." if len(names) > shown else "")


def check_pixels(model_input: Any) -> np.ndarray:
    """Check a batch of images against the input contract and flatten it.

    Args:
        model_input: A NumPy array, a (nested) list, or a table whose columns
            are exactly :data:`fashion_mnist.schemas.PIXEL_COLUMNS` in any order.

    Returns:
        ``uint8`` array of shape (n, 784), the pixels in column order.

    Raises:
        RequestContractError: For no images, floats (scaled 0-1 input is
            ambiguous, so it is refused rather than guessed at), other dtypes,
            values outside 0-255, another shape, or a table with other columns.
    """
    if isinstance(model_input, pd.DataFrame):
        return check_pixels(_pixels_by_name(model_input))
    try:
        values = np.asarray(model_input)
    except ValueError:
        raise RequestContractError(
            "Expected images of shape (n, 784) or (n, 28, 28); got rows of "
            "different lengths."
        ) from None
    if values.size == 0:
        raise RequestContractError(
            "No images were sent: send at least one image of 784 raw 0-255 pixels."
        )
    if values.dtype.kind == "f":
        raise RequestContractError(
            f"Expected raw pixels, integers 0-255; got floats in "
            f"{np.nanmin(values):g}..{np.nanmax(values):g}: send the raw 0-255 "
            "pixel values, not scaled ones."
        )
    if values.dtype.kind not in "iu":
        kind = {"b": "booleans", "U": "strings", "O": "mixed values"}
        raise RequestContractError(
            "Expected raw pixels, integers 0-255; got "
            f"{kind.get(values.dtype.kind, f'dtype {values.dtype}')}."
        )
    if values.min() < 0 or values.max() > 255:
        raise RequestContractError(
            "Expected raw pixels, integers 0-255; got values in "
            f"{values.min()}..{values.max()}."
        )
    if values.ndim == 3 and values.shape[1:] == IMAGE_SHAPE:
        values = values.reshape(len(values), FEATURES)
    if values.ndim != 2 or values.shape[1] != FEATURES:
        raise RequestContractError(
            "Expected images of shape (n, 784) or (n, 28, 28); got shape "
            f"{tuple(values.shape)}."
        )
    return values.astype(np.uint8)


def _pixels_by_name(table: pd.DataFrame) -> np.ndarray:
    """The table's pixel columns in :data:`PIXEL_COLUMNS` order, mapped by name."""
    if table.empty:
        return np.empty((0, FEATURES))
    columns = [str(c) for c in table.columns]
    missing = sorted(_PIXELS - set(columns))
    unknown = [c for c in columns if c not in _PIXELS]
    repeated = len(columns) - len(set(columns))
    if missing or unknown or repeated:
        found = [
            f"{len(unknown)} unknown ({_few(unknown, 2)})" if unknown else "",
            f"{len(missing)} missing" if missing else "",
            f"{repeated} repeated" if repeated else "",
        ]
        raise RequestContractError(
            f"Expected a table with the 784 columns {PIXEL_COLUMNS[0]}.."
            f"{PIXEL_COLUMNS[-1]} (any order) or a tensor in `inputs`; got "
            f"{', '.join(f for f in found if f)} columns."
        )
    return table.set_axis(columns, axis=1)[PIXEL_COLUMNS].to_numpy()


def read_request(body: bytes, content_type: str) -> np.ndarray:
    """Read a scoring request's body into checked pixels.

    Args:
        body: The request body, whole.
        content_type: Its ``Content-Type`` (JSON, CSV or Parquet, as MLflow's
            scoring server reads them).

    Returns:
        ``uint8`` array (n, 784).

    Raises:
        RequestContractError: Naming what is wrong, in one sentence.
    """
    mime = content_type.split(";", maxsplit=1)[0].strip().lower()
    if mime == "application/json":
        return check_pixels(_from_json(body))
    if mime == "text/csv":
        return check_pixels(_table(pd.read_csv, body, "CSV"))
    if mime == "application/vnd.apache.parquet":
        return check_pixels(_table(pd.read_parquet, body, "Parquet"))
    raise RequestContractError(
        f"Expected a body of type {', '.join(CONTENT_TYPES)}; got "
        f"{mime[:40] or 'no Content-Type'}."
    )


def _table(reader: Any, body: bytes, name: str) -> pd.DataFrame:
    try:
        return reader(BytesIO(body))
    except Exception as exc:  # noqa: BLE001 - a parser's own error, named below
        raise RequestContractError(
            f"The request body is not a {name} table ({type(exc).__name__})."
        ) from None


def _from_json(body: bytes) -> Any:
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        where = (
            f" at line {exc.lineno} column {exc.colno}"
            if isinstance(exc, json.JSONDecodeError)
            else ""
        )
        raise RequestContractError(
            f"The request body is not valid JSON{where}."
        ) from None
    keys = [
        k
        for k in TENSOR_KEYS + TABLE_KEYS
        if isinstance(payload, dict) and k in payload
    ]
    if len(keys) != 1:
        found = (
            _few(list(payload)) if isinstance(payload, dict) else type(payload).__name__
        )
        raise RequestContractError(
            f"Expected a JSON object with one of {', '.join(TENSOR_KEYS + TABLE_KEYS)}; "
            f"got {found or 'an empty object'}."
        )
    data = payload[keys[0]]
    if keys[0] == "dataframe_split":
        if not isinstance(data, dict) or "columns" not in data or "data" not in data:
            raise RequestContractError(
                "Expected dataframe_split to hold `columns` (the pixel column "
                "names) and `data` (one row per image)."
            )
        return _frame(lambda: pd.DataFrame(data["data"], columns=data["columns"]))
    if keys[0] == "dataframe_records" or (
        isinstance(data, list) and data and isinstance(data[0], dict)
    ):
        return _frame(lambda: pd.DataFrame.from_records(data))
    return data


def _frame(build: Any) -> pd.DataFrame:
    try:
        return build()
    except (ValueError, TypeError) as exc:
        raise RequestContractError(
            f"The table in the request is malformed ({str(exc)[:80]})."
        ) from None
