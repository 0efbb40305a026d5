"""The table, parameter and model contracts: what they refuse, and how they say it.

Tables and models go through the project's own catalog entries
(``fashion_mnist_{split}`` with its pandera ``validator:``, ``{model}.model``)
from conf/base/catalog.yml, with their files under tmp_path; parameters
through Kedro's own validation of the pipelines' type hints. tests/
test_bad_content.py proves one case of each in a real ``kedro run``.
"""

import copy
import subprocess
import sys
from importlib import import_module
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from kedro.io import DataCatalog, DatasetError
from kedro.validation.exceptions import DataValidationError, ParameterValidationError
from kedro.validation.parameter_validator import ParameterValidator
from safetensors.torch import save_file

from fashion_mnist.datasets.model_dataset import FORMAT, tensor_digest
from fashion_mnist.params import Hyperparameters, TuningParams
from fashion_mnist.params.training import SEED_MAX
from fashion_mnist.schemas import (
    LABEL_COLUMN,
    PIXEL_COLUMNS,
    REBUILD_TABLES,
    RETRAIN,
    table_to_arrays,
)
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


def _project_entry(pattern: str, filepath: Path) -> DataCatalog:
    """A catalog of the project's entry ``pattern``, its file moved to ``filepath``."""
    entry = copy.deepcopy(yaml.safe_load((CONF / "catalog.yml").read_text())[pattern])
    entry["dataset"]["filepath"] = str(filepath)
    return DataCatalog.from_config({pattern: entry})


def _tables(folder: Path) -> DataCatalog:
    """A fresh catalog of the project's table entry, its files in ``folder``."""
    return _project_entry(
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


# ---------------------------------------------------------------- tables
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
        ({"rows": -1}, "prediction_grid.rows Input should be greater than or equal to 1 [type=greater_than_equal, input_value=-1"),
        ({"rows": "abc"}, "prediction_grid.rows Input should be a valid integer, unable to parse string as an integer [type=int_parsing, input_value='abc'"),
        ({"dpi": 20}, "prediction_grid.dpi Input should be greater than or equal to 50 [type=greater_than_equal, input_value=20"),
        ({"only_misclassified": "maybe"}, "prediction_grid.only_misclassified Input should be a valid boolean, unable to interpret input [type=bool_parsing, input_value='maybe'"),
        ({"colums": 4}, "prediction_grid.colums Extra inputs are not permitted [type=extra_forbidden, input_value=4"),
    ],
    ids=["rows-0", "rows-minus-1", "rows-abc", "dpi-20", "only-misclassified-maybe", "misspelt-key"],
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
        ({"seed": 2**64}, "seed seed 18446744073709551616 is outside what torch.Generator.manual_seed takes: use a whole number from 0 to 2**64 - 1 (18446744073709551615)"),
        ({"scratch": {"seed": -1}}, "scratch.seed seed -1 is outside what torch.Generator.manual_seed takes"),
        ({"lr": float("inf")}, "lr Input should be a finite number [type=finite_number, input_value=inf"),
    ],
)  # fmt: skip
def test_a_bad_training_parameter_is_named_with_its_value(
    validator, params, change, named
):
    message = _rejected(validator, params, training={**params["training"], **change})

    assert "Parameter 'training'" in message
    assert named in message


def test_the_seed_bound_is_the_range_torch_generators_take():
    torch.Generator().manual_seed(SEED_MAX)

    with pytest.raises(ValueError, match="Overflow"):
        torch.Generator().manual_seed(SEED_MAX + 1)
    assert Hyperparameters(seed=SEED_MAX).seed == SEED_MAX


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


# ---------------------------------------------------------------- models
SCRATCH = "scratch.model"


@pytest.fixture
def models(tmp_path) -> DataCatalog:
    """The project's model entry (``{model}.model``), its files under tmp_path."""
    return _project_entry("{model}.model", tmp_path / "{model}" / "model.safetensors")


def _write_model(path: Path, model: dict[str, torch.Tensor]) -> None:
    """Write ``model`` with a true checksum, as a run would: only its content can be wrong."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = {"format": FORMAT, "sha256": tensor_digest(model), "mlflow_run_id": ""}
    save_file(model, str(path), metadata=header)


def _loading_refused(models: DataCatalog) -> str:
    with pytest.raises(DatasetError) as raised:
        models.load(SCRATCH)
    return str(raised.value)


def test_a_valid_model_file_loads_back_unchanged(models, tmp_path):
    model = {"weight": torch.randn(10, 784), "bias": torch.randn(10)}
    _write_model(tmp_path / "scratch" / "model.safetensors", model)

    loaded = models.load(SCRATCH)

    assert set(loaded) == {"weight", "bias"}
    assert all(torch.equal(loaded[key], model[key]) for key in model)


@pytest.mark.parametrize(
    ("model", "problem"),
    [
        ({"weight": torch.zeros(10, 783), "bias": torch.zeros(10)}, "weight has shape (10, 783), expected (10, 784)"),
        ({"weight": torch.zeros(10, 784, dtype=torch.float64), "bias": torch.zeros(10, dtype=torch.float64)}, "weight has dtype torch.float64, expected torch.float32; bias has dtype torch.float64, expected torch.float32"),
        ({"weight": torch.zeros(10, 784)}, "keys ['weight'], expected ['bias', 'weight']"),
        ({"weight": torch.full((10, 784), float("nan")), "bias": torch.zeros(10)}, "weight holds non-finite values (NaN or inf)"),
    ],
    ids=["wrong-shape", "float64", "missing-bias", "nan-weight"],
)  # fmt: skip
def test_a_model_file_that_breaks_the_model_contract_is_refused_by_name(
    models, tmp_path, model, problem
):
    path = tmp_path / "scratch" / "model.safetensors"
    _write_model(path, model)

    message = _loading_refused(models)

    assert message == (
        f"{SCRATCH}: {path} is not a valid softmax regression model: {problem}. "
        f"{RETRAIN}"
    )


def test_a_model_file_whose_bytes_changed_is_refused_by_name(models, tmp_path):
    path = tmp_path / "scratch" / "model.safetensors"
    _write_model(path, {"weight": torch.zeros(10, 784), "bias": torch.zeros(10)})
    content = bytearray(path.read_bytes())
    content[-10] ^= 0xFF  # the tensor data ends the file; the header leads it
    path.write_bytes(bytes(content))

    message = _loading_refused(models)

    assert message == (
        f"{SCRATCH}: {path} was changed after it was written: its tensors do not "
        f"match the SHA-256 stored in the file. {RETRAIN}"
    )
