"""The parameter contract: what Kedro's validation of the parameters refuses, and how.

The project's own parameters (conf/base/parameters*.yml) go through Kedro's
validation of the pipelines' type hints, with one group changed at a time;
the tuning group through ``TuningParams``. tests/test_bad_content.py proves
one case in a real ``kedro run``.
"""

from importlib import import_module

import pytest
import torch
import yaml
from kedro.validation.exceptions import ParameterValidationError
from kedro.validation.parameter_validator import ParameterValidator

from fashion_mnist.params import Hyperparameters, TuningParams
from fashion_mnist.params.training import SEED_MAX
from tests.support.conf import CONF

PIPELINES = ("ingestion", "training", "evaluation", "reporting", "inference")


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
