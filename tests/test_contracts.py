"""The table and parameter contracts: what they refuse, and how they say it."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from fashion_mnist.contracts import (
    ParameterContractError,
    TableContractError,
    check_table,
    validate_parameters,
)
from fashion_mnist.tables import LABEL_COLUMN, PIXEL_COLUMNS, table_to_arrays
from tests.support.synthetic import make_table

CONF = Path(__file__).resolve().parents[1] / "conf" / "base"
REBUILD = r"Rebuild it with: kedro run --pipelines ingestion"


@pytest.fixture(scope="module")
def table():
    return make_table(n_per_class=3, seed=0)


def _with_pixels(table: pd.DataFrame, pixels: np.ndarray) -> pd.DataFrame:
    """``table``'s labels with other pixel values (and so another pixel dtype)."""
    frame = pd.DataFrame(pixels, columns=PIXEL_COLUMNS)
    frame.insert(0, LABEL_COLUMN, table[LABEL_COLUMN].to_numpy())
    return frame


@pytest.fixture(scope="module")
def params():
    """The project's own parameters, every group."""
    merged = {}
    for path in sorted(CONF.glob("parameters*.yml")):
        merged.update(yaml.safe_load(path.read_text()))
    return merged


# ---------------------------------------------------------------- tables
def test_a_valid_table_is_returned_unchanged(table):
    before = table.copy()

    checked = check_table(table, "fashion_mnist_train")

    assert checked is table
    pd.testing.assert_frame_equal(table, before)


def test_float_pixels_in_0_1_are_rejected_naming_table_column_and_rebuild(table):
    floats = _with_pixels(table, table[PIXEL_COLUMNS].to_numpy() / 255)

    with pytest.raises(TableContractError) as raised:
        check_table(floats, "fashion_mnist_train")

    message = str(raised.value)
    assert message.startswith("Table 'fashion_mnist_train' breaks")
    assert (
        "column 'pixel_000' has dtype float64, expected uint8 "
        "(raw 0–255 pixels; floats in 0–1 are not accepted); "
        "so do 783 more pixel columns; values span 0..1" in message
    )
    assert message.endswith(REBUILD)


@pytest.mark.parametrize("value", [300, -5])
def test_int64_pixels_outside_0_255_are_rejected_with_their_range(table, value):
    pixels = table[PIXEL_COLUMNS].to_numpy().astype(np.int64)
    pixels[4, 10] = value
    low, high = min(pixels.min(), value), max(pixels.max(), value)

    with pytest.raises(
        TableContractError,
        match=rf"'pixel_000' has dtype int64, expected uint8 .*values span {low}\.\.{high}",
    ):
        check_table(_with_pixels(table, pixels), "fashion_mnist_test")


def test_a_nan_pixel_is_rejected_and_counted(table):
    pixels = table[PIXEL_COLUMNS].to_numpy().astype(np.float64)
    pixels[2, 7] = np.nan

    with pytest.raises(
        TableContractError, match=r"'pixel_000' has dtype float64.*1 NaN value\(s\)"
    ):
        check_table(_with_pixels(table, pixels), "fashion_mnist_train")


def test_a_nan_label_is_rejected(table):
    broken = table.copy()
    broken[LABEL_COLUMN] = broken[LABEL_COLUMN].astype(np.float64)
    broken.loc[3, LABEL_COLUMN] = np.nan

    with pytest.raises(
        TableContractError,
        match=r"column 'label' has dtype float64, expected int64 .*1 NaN value\(s\)",
    ):
        check_table(broken, "fashion_mnist_train")


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ({0: 10}, r"label 10 is outside 0\.\.9 \(in 1 row\(s\)\)"),
        ({0: -1, 1: 12, 2: 12}, r"labels -1, 12 are outside 0\.\.9 \(in 3 row\(s\)\)"),
    ],
)
def test_a_label_outside_the_classes_is_rejected(table, labels, message):
    broken = table.copy()
    for row, label in labels.items():
        broken.loc[row, LABEL_COLUMN] = label

    with pytest.raises(TableContractError, match=message):
        check_table(broken, "fashion_mnist_train")


def test_the_number_of_classes_sets_the_label_range(table):
    with pytest.raises(
        TableContractError, match=r"labels 5, 6, 7, 8, 9 are outside 0\.\.4"
    ):
        check_table(table, "fashion_mnist_train", num_classes=5)


def test_an_empty_table_is_rejected(table):
    with pytest.raises(
        TableContractError, match=r"'fashion_mnist_test' .*\n  - the table is empty"
    ):
        check_table(table.iloc[:0], "fashion_mnist_test")


def test_columns_out_of_order_are_rejected(table):
    swapped = table[[LABEL_COLUMN, "pixel_001", "pixel_000", *PIXEL_COLUMNS[2:]]]

    with pytest.raises(
        TableContractError,
        match=r"columns out of order: position 1 holds 'pixel_001' where 'pixel_000' "
        r"belongs",
    ):
        check_table(swapped, "fashion_mnist_train")


def test_missing_and_unexpected_columns_are_named(table):
    broken = table.drop(columns=["pixel_783"]).assign(row_id=1)

    with pytest.raises(TableContractError) as raised:
        check_table(broken, "fashion_mnist_train")

    assert "missing 1 column(s) ['pixel_783']" in str(raised.value)
    assert "unexpected column(s) ['row_id']" in str(raised.value)


def test_something_other_than_a_dataframe_is_rejected():
    with pytest.raises(
        TableContractError, match=r"it is a list, not a pandas DataFrame"
    ):
        check_table([1, 2], "fashion_mnist_train")


def test_table_to_arrays_refuses_float_pixels_instead_of_casting_them(table):
    floats = _with_pixels(table, table[PIXEL_COLUMNS].to_numpy() / 255)

    with pytest.raises(TableContractError, match=r"'pixel_000' has dtype float64"):
        table_to_arrays(floats)


def test_table_to_arrays_gives_writable_contiguous_uint8_pixels_and_int64_labels(table):
    X, y = table_to_arrays(table)

    assert X.shape == (30, 784) and X.dtype == np.uint8
    assert X.flags.c_contiguous and X.flags.writeable
    assert y.shape == (30,) and y.dtype == np.int64 and y.flags.writeable
    np.testing.assert_array_equal(X, table[PIXEL_COLUMNS].to_numpy())


def test_the_contracts_import_neither_torch_nor_optuna():
    code = (
        "import sys, fashion_mnist.contracts; "
        "assert 'torch' not in sys.modules and 'optuna' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------- parameters
def test_the_projects_own_parameters_are_valid(params):
    validate_parameters(params)


def _problems(params, **groups):
    with pytest.raises(ParameterContractError) as raised:
        validate_parameters({**params, **groups})
    return raised.value.problems


def test_a_threshold_that_is_not_a_number_is_named_with_its_value(params):
    evaluation = params["evaluation"]
    thresholds = {**evaluation["thresholds"], "min_test_acc": "abc"}

    problems = _problems(params, evaluation={**evaluation, "thresholds": thresholds})

    assert problems == [
        "evaluation.thresholds.min_test_acc = 'abc': Input should be a valid number, "
        "unable to parse string as a number"
    ]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"max_train_loss": 0}, "evaluation.thresholds.max_train_loss = 0: Input should be greater than 0"),
        ({"min_train_acc": 1.5}, "evaluation.thresholds.min_train_acc = 1.5: Input should be less than or equal to 1"),
        ({"max_test_acc": 0.6}, "evaluation.thresholds.max_test_acc = 0.6: must be at least min_test_acc (0.7)"),
        ({"min_tset_acc": 0.6}, "evaluation.thresholds.min_tset_acc = 0.6: Extra inputs are not permitted"),
    ],
)  # fmt: skip
def test_a_bad_threshold_is_named_with_its_value(params, change, problem):
    evaluation = params["evaluation"]
    thresholds = {**evaluation["thresholds"], **change}

    problems = _problems(params, evaluation={**evaluation, "thresholds": thresholds})

    assert problems == [problem]


def test_an_unknown_on_failure_is_named_with_its_value(params):
    problems = _problems(
        params, evaluation={**params["evaluation"], "on_failure": "ignore"}
    )

    assert problems == [
        "evaluation.on_failure = 'ignore': Input should be 'raise' or 'warn'"
    ]


def test_a_prediction_grid_over_100_images_names_rows_cols_and_the_limit(params):
    grid = {**params["reporting"]["prediction_grid"], "rows": 1000, "cols": 6}

    problems = _problems(params, reporting={"prediction_grid": grid})

    assert problems == [
        "reporting.prediction_grid.cols = 6: reporting.prediction_grid.rows × cols = "
        "1000 × 6 = 6000 images, more than the limit of 100; lower "
        "reporting.prediction_grid.rows or reporting.prediction_grid.cols"
    ]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"rows": 0}, "reporting.prediction_grid.rows = 0: Input should be greater than or equal to 1"),
        ({"dpi": 20}, "reporting.prediction_grid.dpi = 20: Input should be greater than or equal to 50"),
        ({"only_misclassified": "maybe"}, "reporting.prediction_grid.only_misclassified = 'maybe': Input should be a valid boolean, unable to interpret input"),
    ],
)  # fmt: skip
def test_a_bad_grid_parameter_is_named_with_its_value(params, change, problem):
    grid = {**params["reporting"]["prediction_grid"], **change}

    assert _problems(params, reporting={"prediction_grid": grid}) == [problem]


@pytest.mark.parametrize(
    ("class_names", "problem"),
    [
        (["Bag"], "class_names = ['Bag']: List should have at least 2 items after validation, not 1"),
        (["Bag", "Bag", "Coat"], "class_names = ['Bag', 'Bag', 'Coat']: class names must be unique; ['Bag'] appear more than once"),
        (["Bag", " "], "class_names[1] = ' ': a class name must not be empty or blank"),
        (["Bag", 3], "class_names[1] = 3: Input should be a valid string"),
    ],
)  # fmt: skip
def test_bad_class_names_are_named_with_their_value(params, class_names, problem):
    assert _problems(params, class_names=class_names) == [problem]


def test_a_bad_training_parameter_is_named_with_its_value(params):
    training = {**params["training"], "lr": -0.1}

    problems = _problems(params, training=training)

    assert problems == ["training.lr = -0.1: Input should be greater than 0"]


def test_a_search_space_bound_that_is_not_a_number_is_named_with_its_value(params):
    space = {"lr": {"type": "float", "low": "abc", "high": 1.0}}

    problems = _problems(params, tuning={**params["tuning"], "search_space": space})

    assert problems == ["tuning.search_space.lr.low = 'abc': must be a number"]


def test_a_bad_tuning_setting_is_named_with_its_value(params):
    problems = _problems(params, tuning={**params["tuning"], "n_trials": 0})

    assert problems == [
        "tuning.n_trials = 0: Input should be greater than or equal to 1"
    ]


def test_a_bad_fixed_training_value_of_the_study_is_named_with_its_value(params):
    fixed = {**params["tuning"]["fixed"], "lr_schedule": "exponential"}

    problems = _problems(params, tuning={**params["tuning"], "fixed": fixed})

    assert len(problems) == 1
    assert problems[0].startswith("tuning.fixed.lr_schedule = 'exponential': ")


def test_every_problem_is_reported_together_one_a_line(params):
    evaluation = {**params["evaluation"], "on_failure": "ignore"}
    grid = {**params["reporting"]["prediction_grid"], "rows": 1000}
    training = {**params["training"], "lr": 0, "batch_size": 0}

    with pytest.raises(ParameterContractError) as raised:
        validate_parameters(
            {
                **params,
                "evaluation": evaluation,
                "reporting": {"prediction_grid": grid},
                "class_names": ["Bag"],
                "training": training,
            }
        )

    lines = str(raised.value).splitlines()
    assert lines[0] == "Invalid parameters (5 problem(s)):"
    assert [line.split(" = ")[0] for line in lines[1:6]] == [
        "  - evaluation.on_failure",
        "  - reporting.prediction_grid.cols",
        "  - class_names",
        "  - training.batch_size",
        "  - training.lr",
    ]
    assert "kedro run --params" in lines[-1]


def test_groups_absent_from_the_parameters_are_not_checked():
    validate_parameters({"other": {"anything": 1}})


def test_a_table_missing_a_class_is_refused_when_every_class_is_required():
    table = make_table(n_per_class=2)
    one_class_short = table[table["label"] != 3].reset_index(drop=True)

    check_table(one_class_short, "partial")  # the bare contract: rows, dtypes, range
    with pytest.raises(
        TableContractError, match=r"no image of class\(es\) \[3\] in 18 row\(s\)"
    ):
        check_table(one_class_short, "fashion_mnist_train", every_class=True)
