"""Contracts for the data tables and the parameters: one declaration each, human errors.

Imported by the project's hooks at start-up and by the pipelines' nodes modules,
which every ``kedro`` command imports (``kedro registry list`` too), so it stays
light: pydantic only at import. numpy, pandas and pandera are imported by the
table checks when they run; training and tuning checks import their modules when
called.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from fashion_mnist.tables import LABEL_COLUMN, PIXEL_COLUMNS

if TYPE_CHECKING:
    import pandas as pd
    import pandera.pandas as pa

REBUILD_HINT = "Rebuild it with: kedro run --pipelines ingestion"
PIXEL_DTYPE_HINT = "raw 0–255 pixels; floats in 0–1 are not accepted"
MAX_GRID_IMAGES = 100
_SHOWN = 5  # column names or values quoted in one message before "…"

M = TypeVar("M", bound=BaseModel)


class TableContractError(ValueError):
    """A table does not have the layout, dtypes or values of a Fashion-MNIST table."""


class ParameterContractError(ValueError):
    """One or more parameters are invalid; ``problems`` lists each, one a line."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__(
            f"Invalid parameters ({len(self.problems)} problem(s)):\n"
            + "\n".join(f"  - {problem}" for problem in self.problems)
            + "\nFix them in conf/<env>/parameters*.yml or with "
            "kedro run --params <name>=<value>."
        )


# ---------------------------------------------------------------- tables
@functools.lru_cache(maxsize=8)
def table_schema(num_classes: int = 10) -> pa.DataFrameSchema:
    """The declaration of a flattened Fashion-MNIST table.

    Args:
        num_classes: k; labels must lie in 0..k-1.

    Returns:
        A pandera schema: ``label`` (``int64`` in 0..k-1), then exactly
        ``pixel_000`` … ``pixel_783`` in order, each ``uint8`` (the dtype bounds
        them to 0–255, so they carry no value checks), and at least one row.
    """
    import numpy as np  # noqa: PLC0415
    import pandera.pandas as pa  # noqa: PLC0415

    return pa.DataFrameSchema(
        {
            LABEL_COLUMN: pa.Column(np.int64, pa.Check.in_range(0, num_classes - 1)),
            **{column: pa.Column(np.uint8) for column in PIXEL_COLUMNS},
        },
        checks=[
            pa.Check(
                lambda df: len(df) > 0,
                name="at_least_one_row",
                error="the table is empty (no rows)",
            )
        ],
        ordered=True,
        strict=True,
        name="fashion_mnist_table",
    )


def check_table(
    table: pd.DataFrame, name: str, num_classes: int = 10, every_class: bool = False
) -> pd.DataFrame:
    """Check a table against :func:`table_schema`; return it unchanged when it holds.

    The schema's declaration is evaluated column by column in vectorised form
    (column names, dtypes, then the declared checks), which takes about a
    millisecond on 60,000 rows where ``schema.validate`` takes a quarter second.

    Args:
        table: One row per image: ``label`` and ``pixel_000`` … ``pixel_783``.
        name: The table's name in messages, e.g. the dataset ``fashion_mnist_train``.
        num_classes: k; labels must lie in 0..k-1.
        every_class: Also require at least one image of each of the k classes
            (a table to train or score on; a one-row table is not one).

    Returns:
        ``table`` itself.

    Raises:
        TableContractError: Naming the table, each failed check in words, and
            how to rebuild the table.
    """
    import pandas as pd  # noqa: PLC0415

    if not isinstance(table, pd.DataFrame):
        problems = [f"it is a {type(table).__name__}, not a pandas DataFrame"]
    else:
        schema = table_schema(num_classes)
        problems = [
            *_column_problems(table, schema),
            *_dtype_problems(table, schema),
            *_check_problems(table, schema),
        ]
        if every_class and not problems:
            absent = sorted(set(range(num_classes)) - set(table["label"].unique()))
            if absent:
                problems.append(
                    f"no image of class(es) {absent} in {len(table)} row(s): every "
                    "class must appear at least once"
                )
    if problems:
        raise TableContractError(
            f"Table {name!r} breaks the Fashion-MNIST table contract "
            f"(label int64 in 0..{num_classes - 1}, then pixel_000 … pixel_783 "
            "uint8, at least one row):\n"
            + "\n".join(f"  - {problem}" for problem in problems)
            + f"\n{REBUILD_HINT}"
        )
    return table


def _quoted(names: list[Any]) -> str:
    shown = ", ".join(repr(n) for n in names[:_SHOWN])
    return f"[{shown}{', …' if len(names) > _SHOWN else ''}]"


def _column_problems(table: pd.DataFrame, schema: pa.DataFrameSchema) -> list[str]:
    expected, actual = list(schema.columns), list(table.columns)
    if actual == expected:
        return []
    present = set(actual)
    problems = []
    missing = [c for c in expected if c not in present]
    if missing:
        problems.append(f"missing {len(missing)} column(s) {_quoted(missing)}")
    if schema.strict:
        wanted = set(expected)
        extra = [c for c in actual if c not in wanted]
        if extra:
            problems.append(f"unexpected column(s) {_quoted(extra)}")
    duplicated = sorted(set(table.columns[table.columns.duplicated()]), key=str)
    if duplicated:
        problems.append(f"duplicate column(s) {_quoted(duplicated)}")
    if schema.ordered and not problems:
        position = next(
            i for i, (a, e) in enumerate(zip(actual, expected, strict=False)) if a != e
        )
        problems.append(
            f"columns out of order: position {position} holds {actual[position]!r} "
            f"where {expected[position]!r} belongs"
        )
    return problems


def _dtype_problems(table: pd.DataFrame, schema: pa.DataFrameSchema) -> list[str]:
    dtypes = dict(zip(table.columns, table.dtypes, strict=True))
    wrong = [
        c
        for c, declared in schema.columns.items()
        if c in dtypes and dtypes[c] != declared.dtype.type
    ]
    if not wrong:
        return []
    problems = []
    if LABEL_COLUMN in wrong:
        problems.append(
            f"column {LABEL_COLUMN!r} has dtype {dtypes[LABEL_COLUMN]}, "
            f"expected {schema.columns[LABEL_COLUMN].dtype} (integer class indices)"
            + _values_note(table[[LABEL_COLUMN]])
        )
    pixels = [c for c in wrong if c != LABEL_COLUMN]
    if pixels:
        first = pixels[0]
        more = (
            f"; so do {len(pixels) - 1} more pixel columns" if len(pixels) > 1 else ""
        )
        problems.append(
            f"column {first!r} has dtype {dtypes[first]}, expected "
            f"{schema.columns[first].dtype} ({PIXEL_DTYPE_HINT}){more}"
            + _values_note(table[pixels])
        )
    return problems


def _values_note(frame: pd.DataFrame) -> str:
    """What the values of wrongly typed columns look like: their range and NaNs."""
    import numpy as np  # noqa: PLC0415

    try:
        values = frame.to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        return "; its values are not numbers"
    nan = int(np.isnan(values).sum())
    notes = []
    if nan < values.size:
        notes.append(f"values span {np.nanmin(values):g}..{np.nanmax(values):g}")
    if nan:
        notes.append(f"{nan} NaN value(s)")
    return f"; {', '.join(notes)}" if notes else ""


def _check_problems(table: pd.DataFrame, schema: pa.DataFrameSchema) -> list[str]:
    import pandas as pd  # noqa: PLC0415

    problems = [
        check.error or check.name
        for check in schema.checks
        if not check(table).check_passed
    ]
    for column, declared in schema.columns.items():
        if not declared.checks or column not in table.columns:
            continue
        series = table[column]
        if isinstance(series, pd.DataFrame) or series.dtype != declared.dtype.type:
            continue  # a duplicate or a wrong dtype: reported already
        for check in declared.checks:
            result = check(series)
            if not result.check_passed:
                problems.append(_check_failure(column, check, result.failure_cases))
    return problems


def _check_failure(column: str, check: pa.Check, failure_cases: pd.Series) -> str:
    import pandas as pd  # noqa: PLC0415

    values = sorted(pd.unique(failure_cases))
    shown = ", ".join(str(v) for v in values[:_SHOWN]) + (
        ", …" if len(values) > _SHOWN else ""
    )
    rows = f"in {len(failure_cases)} row(s)"
    if check.name == "in_range":
        low, high = check.statistics["min_value"], check.statistics["max_value"]
        noun = column if len(values) == 1 else f"{column}s"
        return f"{noun} {shown} {'is' if len(values) == 1 else 'are'} outside {low}..{high} ({rows})"
    return f"column {column!r} fails {check.error or check.name}: {shown} ({rows})"


# ---------------------------------------------------------------- parameters
class Thresholds(BaseModel):
    """``evaluation.thresholds``: the bounds of the threshold gate."""

    model_config = ConfigDict(extra="forbid")

    max_train_loss: float = Field(gt=0)
    min_train_acc: float = Field(ge=0, le=1)
    max_train_acc: float = Field(ge=0, le=1)
    min_test_acc: float = Field(ge=0, le=1)
    max_test_acc: float = Field(ge=0, le=1)

    @field_validator("max_train_acc", "max_test_acc")
    @classmethod
    def _not_below_the_minimum(cls, value: float, info: ValidationInfo) -> float:
        low_name = info.field_name.replace("max_", "min_")
        low = info.data.get(low_name)
        if low is not None and value < low:
            raise PydanticCustomError(
                "bounds_order",
                "must be at least {low_name} ({low})",
                {"low_name": low_name, "low": low},
            )
        return value


class EvaluationParams(BaseModel):
    """The ``evaluation`` parameter group."""

    model_config = ConfigDict(extra="forbid")

    # An absent group validates as {}, so each missing bound is named.
    thresholds: Thresholds = Field(default_factory=dict, validate_default=True)
    on_failure: Literal["raise", "warn"] = "raise"

    @field_validator("thresholds", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return {} if value is None else value


class PredictionGrid(BaseModel):
    """``reporting.prediction_grid``: which test images the grid shows, and how."""

    model_config = ConfigDict(extra="forbid")

    rows: int = Field(ge=1)
    cols: int = Field(ge=1)
    only_misclassified: bool = False
    dpi: int = Field(100, ge=50, le=300)

    @field_validator("cols")
    @classmethod
    def _at_most_max_grid_images(cls, cols: int, info: ValidationInfo) -> int:
        rows = info.data.get("rows")
        if rows is not None and rows * cols > MAX_GRID_IMAGES:
            raise PydanticCustomError(
                "grid_too_large",
                "reporting.prediction_grid.rows × cols = {rows} × {cols} = {total} "
                "images, more than the limit of {limit}; lower "
                "reporting.prediction_grid.rows or reporting.prediction_grid.cols",
                {
                    "rows": rows,
                    "cols": cols,
                    "total": rows * cols,
                    "limit": MAX_GRID_IMAGES,
                },
            )
        return cols


class ReportingParams(BaseModel):
    """The ``reporting`` parameter group."""

    model_config = ConfigDict(extra="forbid")

    prediction_grid: PredictionGrid


def _not_blank(name: str) -> str:
    if not name.strip():
        raise PydanticCustomError("blank", "a class name must not be empty or blank")
    return name


class ClassNames(RootModel[list[Annotated[str, AfterValidator(_not_blank)]]]):
    """``class_names``: at least two distinct, non-blank names, in label order."""

    root: list[Annotated[str, AfterValidator(_not_blank)]] = Field(min_length=2)

    @field_validator("root")
    @classmethod
    def _unique(cls, names: list[str]) -> list[str]:
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise PydanticCustomError(
                "duplicates",
                "class names must be unique; {repeated} appear more than once",
                {"repeated": repeated},
            )
        return names


_GROUPS: dict[str, type[BaseModel]] = {
    "evaluation": EvaluationParams,
    "reporting": ReportingParams,
    "class_names": ClassNames,
}


def _where(prefix: str, loc: tuple[int | str, ...]) -> str:
    return prefix + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)


def _problems(exc: ValidationError, prefix: str) -> list[str]:
    """One ``<dotted.parameter> = <value!r>: <what is wrong>`` line per error."""
    problems = []
    for error in exc.errors():
        where = _where(prefix, error["loc"])
        if error["type"] == "missing":
            problems.append(f"{where} is missing")
        else:
            problems.append(f"{where} = {error['input']!r}: {error['msg']}")
    return problems


def parse_parameters(model: type[M], value: Any, where: str) -> M:
    """Validate one parameter group (or part of one) against its model.

    Args:
        model: The pydantic model, e.g. :class:`EvaluationParams`.
        value: The group's values, as Kedro loaded them.
        where: The group's dotted name in messages, e.g. ``evaluation``.

    Returns:
        The validated model.

    Raises:
        ParameterContractError: Listing every bad parameter by dotted name and value.
    """
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise ParameterContractError(_problems(exc, where)) from None


def _group_problems(model: type[BaseModel], value: Any, where: str) -> list[str]:
    try:
        model.model_validate(value)
    except ValidationError as exc:
        return _problems(exc, where)
    return []


def _training_problems(training: Any) -> list[str]:
    if not isinstance(training, dict):
        return [f"training = {training!r}: must be a mapping of training parameters"]
    # Imported here: training pulls in torch, too heavy for start-up.
    from fashion_mnist.pipelines.training.nodes import resolve_hyperparameters  # noqa: PLC0415

    try:
        resolve_hyperparameters(training, "scratch")  # checks both models' settings
    except ValueError as exc:
        text = str(exc).removeprefix("Invalid training parameters: ")
        return re.split(r"; (?=training\.)", text)
    return []


def _tuning_problems(tuning: Any) -> list[str]:
    # Imported here: the tuning nodes import the training module (torch).
    from fashion_mnist.pipelines.tuning.nodes import (  # noqa: PLC0415
        TuningParameterError,
        TuningParams,
        parse_search_space,
        parse_tuning_params,
    )

    problems = _group_problems(TuningParams, tuning, "tuning")
    if not problems:
        try:
            parse_tuning_params(tuning)
        except TuningParameterError as exc:
            problems.append(str(exc).removeprefix("Invalid tuning parameters: "))
    space = tuning.get("search_space") if isinstance(tuning, dict) else None
    if isinstance(space, dict) and not any(
        p.startswith("tuning.search_space") for p in problems
    ):
        try:
            parse_search_space(space)
        except TuningParameterError as exc:
            problems.append(str(exc))
    return problems


def validate_parameters(params: dict[str, Any]) -> None:
    """Check every known parameter group present in ``params``; report all problems.

    Args:
        params: The whole Kedro parameters dictionary; the groups checked are
            ``training``, ``evaluation``, ``reporting``, ``class_names`` and
            ``tuning``, each only when present. Other keys are left alone.

    Raises:
        ParameterContractError: Listing each problem as
            ``<dotted.parameter> = <value!r>: <what is wrong>``.
    """
    problems = [
        problem
        for key, model in _GROUPS.items()
        if key in params
        for problem in _group_problems(model, params[key], key)
    ]
    if "training" in params:
        problems += _training_problems(params["training"])
    if "tuning" in params:
        problems += _tuning_problems(params["tuning"])
    if problems:
        raise ParameterContractError(problems)
