"""The table and parameter contracts: what they refuse, and how they say it.

Tables go through a catalog entry shaped like ``fashion_mnist_{split}`` in
conf/base/catalog.yml (a dataset factory with the pandera ``validator:``);
parameters through Kedro's own validation of the pipelines' type hints.
"""

import subprocess
import sys
from importlib import import_module
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from kedro.io import DataCatalog
from kedro.validation.exceptions import DataValidationError, ParameterValidationError
from kedro.validation.parameter_validator import ParameterValidator

from fashion_mnist.params import TuningParams
from fashion_mnist.schemas import LABEL_COLUMN, PIXEL_COLUMNS, table_to_arrays
from tests.support.synthetic import make_table

CONF = Path(__file__).resolve().parents[1] / "conf" / "base"
VALIDATOR = "fashion_mnist.schemas.FashionMnistTable"
PIPELINES = ("ingestion", "training", "evaluation", "reporting", "inference")


@pytest.fixture(scope="module")
def table():
    return make_table(n_per_class=3, seed=0)


def _with_pixels(table: pd.DataFrame, pixels: np.ndarray) -> pd.DataFrame:
    """``table``'s labels with other pixel values (and so another pixel dtype)."""
    frame = pd.DataFrame(pixels, columns=PIXEL_COLUMNS)
    frame.insert(0, LABEL_COLUMN, table[LABEL_COLUMN].to_numpy())
    return frame


@pytest.fixture
def catalog(tmp_path):
    """The project's table entry (a factory with the validator), under tmp_path."""
    entry = yaml.safe_load((CONF / "catalog.yml").read_text())["fashion_mnist_{split}"]
    assert entry["validator"]["class"] == VALIDATOR
    config = {
        "fashion_mnist_{split}": {
            "type": "pandas.ParquetDataset",
            "filepath": str(tmp_path / "fashion_mnist_{split}.parquet"),
            "validator": entry["validator"],
        }
    }
    return DataCatalog.from_config(config)


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


# ---------------------------------------------------------------- tables
def test_a_valid_table_is_saved_and_loaded_back_unchanged(catalog, table):
    catalog.save("fashion_mnist_test", table)

    pd.testing.assert_frame_equal(catalog.load("fashion_mnist_test"), table)


def test_float_pixels_in_0_1_are_refused_naming_the_column_and_its_dtype(
    catalog, table
):
    floats = _with_pixels(table, table[PIXEL_COLUMNS].to_numpy() / 255)

    message = _refused(catalog, floats)

    assert "784 check(s) failed" in message
    assert "pixel_000: dtype('uint8') — 1 case (e.g. float64)" in message


@pytest.mark.parametrize("mode", ["save", "load"])
def test_int64_pixels_outside_0_255_are_refused_with_the_bad_values(
    catalog, table, mode, tmp_path
):
    pixels = table[PIXEL_COLUMNS].to_numpy().astype(np.int64)
    pixels[4, 0], pixels[5, 1] = 300, -5
    broken = _with_pixels(table, pixels)
    if mode == "load":
        broken.to_parquet(tmp_path / "fashion_mnist_train.parquet", index=False)

    message = _refused(catalog, broken, mode)

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


# ---------------------------------------------------------------- parameters
@pytest.fixture(scope="module")
def params():
    """The project's own parameters, every group."""
    merged = {}
    for path in sorted(CONF.glob("parameters*.yml")):
        merged.update(yaml.safe_load(path.read_text()))
    return merged


@pytest.fixture(scope="module")
def validator():
    """Kedro's validation of the parameters the project's pipelines type-hint."""
    pipelines = {
        name: import_module(f"fashion_mnist.pipelines.{name}").create_pipeline()
        for name in PIPELINES
    }
    return ParameterValidator(pipelines)


def _rejected(validator, params, **groups) -> str:
    """Kedro's message for ``params`` with ``groups`` replaced, one line."""
    with pytest.raises(ParameterValidationError) as raised:
        validator.validate_raw_params({**params, **groups})
    return " ".join(str(raised.value).split())


def test_the_projects_own_parameters_are_valid_and_become_models(validator, params):
    validated = validator.validate_raw_params(params)

    assert type(validated["training"]).__name__ == "TrainingParams"
    assert type(validated["evaluation"]).__name__ == "EvaluationParams"
    assert type(validated["reporting"]).__name__ == "ReportingParams"
    assert type(validated["inference"]).__name__ == "InferenceParams"
    assert validated["class_names"].root == params["class_names"]
    TuningParams.model_validate(params["tuning"])


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"min_test_acc": "abc"}, "thresholds.min_test_acc Input should be a valid number, unable to parse string as a number [type=float_parsing, input_value='abc'"),
        ({"max_train_loss": 0}, "thresholds.max_train_loss Input should be greater than 0 [type=greater_than, input_value=0"),
        ({"min_train_acc": 1.5}, "thresholds.min_train_acc Input should be less than or equal to 1 [type=less_than_equal, input_value=1.5"),
        ({"max_test_acc": 0.6}, "thresholds.max_test_acc max_test_acc = 0.6 must be at least min_test_acc (0.7); raise evaluation.thresholds.max_test_acc or lower min_test_acc"),
        ({"min_tset_acc": 0.6}, "thresholds.min_tset_acc Extra inputs are not permitted [type=extra_forbidden, input_value=0.6"),
    ],
)  # fmt: skip
def test_a_bad_threshold_is_named_with_its_value(validator, params, change, named):
    evaluation = params["evaluation"]
    thresholds = {**evaluation["thresholds"], **change}

    message = _rejected(
        validator, params, evaluation={**evaluation, "thresholds": thresholds}
    )

    assert message.startswith("Parameter validation failed: - Parameter 'evaluation': ")
    assert named in message


def test_missing_thresholds_are_each_named(validator, params):
    message = _rejected(validator, params, evaluation={"on_failure": "raise"})

    assert "5 validation errors for EvaluationParams" in message
    for bound in params["evaluation"]["thresholds"]:
        assert f"thresholds.{bound} Field required" in message


def test_an_unknown_on_failure_is_named_with_its_value(validator, params):
    message = _rejected(
        validator, params, evaluation={**params["evaluation"], "on_failure": "ignore"}
    )

    assert (
        "on_failure Input should be 'raise' or 'warn' [type=literal_error, "
        "input_value='ignore'" in message
    )


def test_a_prediction_grid_over_100_images_names_rows_cols_and_the_limit(
    validator, params
):
    grid = {**params["reporting"]["prediction_grid"], "rows": 1000, "cols": 6}

    message = _rejected(validator, params, reporting={"prediction_grid": grid})

    assert "Parameter 'reporting'" in message
    assert (
        "prediction_grid.cols reporting.prediction_grid.rows × cols = 1000 × 6 = "
        "6000 images, more than the limit of 100; lower "
        "reporting.prediction_grid.rows or reporting.prediction_grid.cols" in message
    )


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"rows": 0}, "prediction_grid.rows Input should be greater than or equal to 1 [type=greater_than_equal, input_value=0"),
        ({"dpi": 20}, "prediction_grid.dpi Input should be greater than or equal to 50 [type=greater_than_equal, input_value=20"),
        ({"only_misclassified": "maybe"}, "prediction_grid.only_misclassified Input should be a valid boolean, unable to interpret input [type=bool_parsing, input_value='maybe'"),
        ({"colums": 4}, "prediction_grid.colums Extra inputs are not permitted [type=extra_forbidden, input_value=4"),
    ],
)  # fmt: skip
def test_a_bad_grid_parameter_is_named_with_its_value(validator, params, change, named):
    grid = {**params["reporting"]["prediction_grid"], **change}

    message = _rejected(validator, params, reporting={"prediction_grid": grid})

    assert "Parameter 'reporting'" in message
    assert named in message


@pytest.mark.parametrize(
    ("class_names", "named"),
    [
        (["Bag"], "List should have at least 2 items after validation, not 1 [type=too_short, input_value=['Bag']"),
        (["Bag", "Bag", "Coat"], "class names must be unique; ['Bag'] appear more than once [type=duplicates, input_value=['Bag', 'Bag', 'Coat']"),
        (["Bag", " "], "1 a class name must not be empty or blank; name the class [type=blank, input_value=' '"),
        (["Bag", 3], "1 Input should be a valid string [type=string_type, input_value=3"),
    ],
)  # fmt: skip
def test_bad_class_names_are_named_with_their_value(
    validator, params, class_names, named
):
    message = _rejected(validator, params, class_names=class_names)

    assert "Parameter 'class_names'" in message
    assert named in message


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"lr": -0.1}, "lr Input should be greater than 0 [type=greater_than, input_value=-0.1"),
        ({"scratch": {"batch_size": 0}}, "scratch.batch_size Input should be greater than 0 [type=greater_than, input_value=0"),
        ({"concise": {"lr_schedule": "exp"}}, "concise.lr_schedule Input should be 'constant', 'cosine' or 'linear' [type=literal_error, input_value='exp'"),
        ({"concise": {"epochs": 3}}, "concise.epochs Extra inputs are not permitted [type=extra_forbidden, input_value=3"),
    ],
)  # fmt: skip
def test_a_bad_training_parameter_is_named_with_its_value(
    validator, params, change, named
):
    message = _rejected(validator, params, training={**params["training"], **change})

    assert "Parameter 'training'" in message
    assert named in message


def test_every_bad_group_is_reported_together_one_a_line(validator, params):
    evaluation = {**params["evaluation"], "on_failure": "ignore"}
    grid = {**params["reporting"]["prediction_grid"], "rows": 1000}
    training = {**params["training"], "lr": 0, "batch_size": 0}

    with pytest.raises(ParameterValidationError) as raised:
        validator.validate_raw_params(
            {
                **params,
                "evaluation": evaluation,
                "reporting": {"prediction_grid": grid},
                "class_names": ["Bag"],
                "training": training,
            }
        )

    groups = [
        line.split("'")[1]
        for line in str(raised.value).splitlines()
        if line.startswith("- Parameter ")
    ]
    assert sorted(groups) == ["class_names", "evaluation", "reporting", "training"]
    assert "2 validation errors for TrainingParams" in str(raised.value)


def _tuning_problem(params, **change) -> str:
    with pytest.raises(ValueError) as raised:
        TuningParams.model_validate({**params["tuning"], **change})
    return " ".join(str(raised.value).split())


def test_a_search_space_bound_that_is_not_a_number_is_named_with_its_value(params):
    space = {"lr": {"type": "float", "low": "abc", "high": 1.0}}

    message = _tuning_problem(params, search_space=space)

    assert "tuning.search_space.lr.low = 'abc': must be a number" in message


def test_a_bad_tuning_setting_is_named_with_its_value(params):
    message = _tuning_problem(params, n_trials=0)

    assert (
        "n_trials Input should be greater than or equal to 1 "
        "[type=greater_than_equal, input_value=0" in message
    )


def test_a_bad_fixed_training_value_of_the_study_is_named_with_its_value(params):
    fixed = {**params["tuning"]["fixed"], "lr_schedule": "exponential"}

    message = _tuning_problem(params, fixed=fixed)

    assert "tuning.fixed.lr_schedule = 'exponential': " in message


def test_groups_absent_from_the_parameters_are_not_checked(validator):
    assert validator.validate_raw_params({"other": {"anything": 1}}) == {
        "other": {"anything": 1}
    }
