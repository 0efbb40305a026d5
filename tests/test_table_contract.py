"""The table contract: what the pandera schema on the catalog's tables refuses, and how.

Tables go through the project's own catalog entry (``fashion_mnist_{split}``
with its pandera ``validator:``) from conf/base/catalog.yml, its files under
tmp_path; ``table_to_arrays`` turns a valid table into arrays. The contract
modules stay light to import. tests/test_bad_content.py proves one case in a
real ``kedro run``.
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from kedro.io import DataCatalog
from kedro.validation.exceptions import DataValidationError

from fashion_mnist.schemas import (
    LABEL_COLUMN,
    PIXEL_COLUMNS,
    REBUILD_TABLES,
    table_to_arrays,
)
from tests.support.conf import project_entry
from tests.support.synthetic import make_table

VALIDATOR = "fashion_mnist.schemas.FashionMnistTable"


@pytest.fixture(scope="module")
def table():
    return make_table(n_per_class=3, seed=0)


def _with_pixels(table: pd.DataFrame, pixels: np.ndarray) -> pd.DataFrame:
    """``table``'s labels with other pixel values (and so another pixel dtype)."""
    frame = pd.DataFrame(pixels, columns=PIXEL_COLUMNS)
    frame.insert(0, LABEL_COLUMN, table[LABEL_COLUMN].to_numpy())
    return frame


def _tables(folder: Path) -> DataCatalog:
    """A fresh catalog of the project's table entry, its files in ``folder``."""
    return project_entry(
        "fashion_mnist_{split}", folder / "fashion_mnist_{split}.parquet"
    )


@pytest.fixture
def catalog(tmp_path):
    """The project's table entry (a factory with the validator), under tmp_path."""
    return _tables(tmp_path)


def _refused(catalog: DataCatalog, table, mode: str = "save") -> str:
    """The message of the catalog's refusal to save (or load) ``table``."""
    with pytest.raises(DataValidationError) as raised:
        if mode == "save":
            catalog.save("fashion_mnist_train", table)
        else:  # the file ``table`` names is on disk already
            catalog.load("fashion_mnist_train")
    message = str(raised.value)
    assert message.startswith(
        f"Validation failed for dataset 'fashion_mnist_train' on {mode}\n"
        f"(validator: {VALIDATOR})"
    )
    return message


def test_a_valid_table_is_saved_and_loaded_back_unchanged(catalog, table, tmp_path):
    catalog.save("fashion_mnist_test", table)

    loaded = _tables(tmp_path).load("fashion_mnist_test")  # from the file

    pd.testing.assert_frame_equal(loaded, table)


def test_float_pixels_in_0_1_are_refused_naming_the_column_and_its_dtype(
    catalog, table
):
    floats = _with_pixels(table, table[PIXEL_COLUMNS].to_numpy() / 255)

    message = _refused(catalog, floats)

    assert "784 check(s) failed" in message
    assert "pixel_000: dtype('uint8') — 1 case (e.g. float64)" in message


def _int64_out_of_range(table: pd.DataFrame) -> pd.DataFrame:
    pixels = table[PIXEL_COLUMNS].to_numpy().astype(np.int64)
    pixels[4, 0], pixels[5, 1] = 300, -5
    return _with_pixels(table, pixels)


def test_int64_pixels_outside_0_255_are_refused_with_the_bad_values(catalog, table):
    message = _refused(catalog, _int64_out_of_range(table))

    assert "pixel_000: dtype('uint8') — 1 case (e.g. 300)" in message
    assert "pixel_001: dtype('uint8') — 1 case (e.g. -5)" in message


def test_a_nan_label_is_refused(catalog, table):
    broken = table.copy()
    broken[LABEL_COLUMN] = broken[LABEL_COLUMN].astype(np.float64)
    broken.loc[3, LABEL_COLUMN] = np.nan

    message = _refused(catalog, broken)

    assert "label: not_nullable — 1 case (e.g. nan)" in message
    assert "label: dtype('int64')" in message


@pytest.mark.parametrize(
    ("labels", "cases"),
    [
        ({0: 10}, "1 case (e.g. 10)"),
        ({0: -1, 1: 12, 2: 12}, "3 cases (e.g. -1, 12, 12)"),
    ],
)
def test_a_label_outside_the_classes_is_refused_with_its_value(
    catalog, table, labels, cases
):
    broken = table.copy()
    for row, label in labels.items():
        broken.loc[row, LABEL_COLUMN] = label

    message = _refused(catalog, broken)

    assert f"label: in_range(0, 9) — {cases}" in message


def test_an_empty_table_is_refused_with_the_fix(catalog, table):
    message = _refused(catalog, table.iloc[:0])

    assert (
        "the table is empty (no rows). Rebuild it with: kedro run --pipelines "
        "ingestion" in message
    )


@pytest.mark.parametrize("rows", [slice(0, 1), slice(0, 9)])
def test_a_table_missing_a_class_is_refused_with_the_fix(catalog, table, rows):
    message = _refused(catalog, table.iloc[rows])

    assert (
        "every class 0..9 must have an image. Rebuild it with: kedro run "
        "--pipelines ingestion" in message
    )


def _nan_pixel(table: pd.DataFrame) -> pd.DataFrame:
    broken = _with_pixels(table, table[PIXEL_COLUMNS].to_numpy(np.float64))
    broken.loc[0, "pixel_000"] = np.nan
    return broken


def _label_10(table: pd.DataFrame) -> pd.DataFrame:
    return table.assign(**{LABEL_COLUMN: [10, *table[LABEL_COLUMN].iloc[1:]]})


# A table file replaced on disk after ingestion, as a user or another tool might.
CHANGED_ON_DISK = {
    "floats-in-0-1": (
        lambda t: _with_pixels(t, t[PIXEL_COLUMNS].to_numpy() / 255),
        ["784 check(s) failed", "pixel_000: dtype('uint8') — 1 case (e.g. float64)"],
    ),
    "int64-300-and-minus-5": (
        _int64_out_of_range,
        ["pixel_000: dtype('uint8') — 1 case (e.g. 300)", "pixel_001: dtype('uint8') — 1 case (e.g. -5)"],
    ),
    "nan-pixel": (_nan_pixel, ["pixel_000: not_nullable — 1 case (e.g. nan)"]),
    "label-10": (_label_10, ["label: in_range(0, 9) — 1 case (e.g. 10)"]),
    "no-rows": (lambda t: t.iloc[:0], [f"the table is empty (no rows). {REBUILD_TABLES}"]),
    "one-row": (lambda t: t.iloc[:1], [f"every class 0..9 must have an image. {REBUILD_TABLES}"]),
}  # fmt: skip


@pytest.mark.parametrize("case", CHANGED_ON_DISK)
def test_a_table_file_changed_on_disk_is_refused_on_load_naming_the_problem(
    catalog, table, tmp_path, case
):
    change, problems = CHANGED_ON_DISK[case]
    change(table).to_parquet(tmp_path / "fashion_mnist_train.parquet", index=False)

    message = _refused(catalog, None, mode="load")

    for problem in problems:
        assert problem in message


def test_columns_out_of_order_are_refused_naming_them(catalog, table):
    swapped = table[[LABEL_COLUMN, "pixel_001", "pixel_000", *PIXEL_COLUMNS[2:]]]

    message = _refused(catalog, swapped)

    assert "column_ordered — 2 cases (e.g. pixel_001, pixel_000)" in message


def test_missing_and_unexpected_columns_are_named(catalog, table):
    broken = table.drop(columns=["pixel_783"]).assign(row_id=1)

    message = _refused(catalog, broken)

    assert "column_in_schema — 1 case (e.g. row_id)" in message
    assert "column_in_dataframe — 1 case (e.g. pixel_783)" in message


def test_something_other_than_a_dataframe_is_refused(catalog):
    message = _refused(catalog, [1, 2])

    assert "expected pd.DataFrame, got <class 'list'>" in message


def test_a_refused_table_is_never_written(catalog, table, tmp_path):
    _refused(catalog, table.iloc[:0])

    assert not (tmp_path / "fashion_mnist_train.parquet").exists()


def test_table_to_arrays_gives_writable_contiguous_uint8_pixels_and_int64_labels(table):
    X, y = table_to_arrays(table)

    assert X.shape == (30, 784) and X.dtype == np.uint8
    assert X.flags.c_contiguous and X.flags.writeable
    assert y.shape == (30,) and y.dtype == np.int64 and y.flags.writeable
    np.testing.assert_array_equal(X, table[PIXEL_COLUMNS].to_numpy())


def test_table_to_arrays_converts_a_table_once(table):
    first, second = table_to_arrays(table), table_to_arrays(table)

    assert first[0] is second[0] and first[1] is second[1]


def test_params_and_schemas_import_neither_torch_nor_pandera_nor_optuna():
    code = (
        "import sys, fashion_mnist.params, fashion_mnist.schemas; "
        "assert not {'torch', 'optuna', 'pandera'} & set(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
