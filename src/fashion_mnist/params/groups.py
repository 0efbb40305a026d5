"""The ``class_names``, ``evaluation``, ``registry``, ``reporting`` and ``inference`` groups."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

MAX_GRID_IMAGES = 100


# ---------------------------------------------------------------- evaluation
class Thresholds(BaseModel):
    """``evaluation.thresholds``: the bounds of the threshold gate."""

    model_config = ConfigDict(extra="forbid", frozen=True)

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
                "{name} = {value} must be at least {low_name} ({low}); raise "
                "evaluation.thresholds.{name} or lower {low_name}",
                {
                    "name": info.field_name,
                    "value": value,
                    "low_name": low_name,
                    "low": low,
                },
            )
        return value


class EvaluationParams(BaseModel):
    """The ``evaluation`` group: the gate's bounds and what a failure does."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # An absent group validates as {}, so each missing bound is named.
    thresholds: Thresholds = Field(default_factory=dict, validate_default=True)
    on_failure: Literal["raise", "warn"] = "raise"

    @field_validator("thresholds", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return {} if value is None else value


# ---------------------------------------------------------------- registry
class RegistryParams(BaseModel):
    """The ``registry`` group: when the champion alias moves to a new version.

    ``significant``: only when the new version beats the champion on the same
    test images by McNemar's exact test at level ``alpha``. ``better``: on any
    higher test accuracy. ``alpha`` is also the level at which the evaluation
    pipeline calls the difference between a run's models significant.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    policy: Literal["significant", "better"] = "significant"
    alpha: float = Field(0.05, gt=0, lt=1)


# ---------------------------------------------------------------- reporting
class PredictionGrid(BaseModel):
    """``reporting.prediction_grid``: which test images the grid shows, and how."""

    model_config = ConfigDict(extra="forbid", frozen=True)

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
    """The ``reporting`` group."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prediction_grid: PredictionGrid


# ---------------------------------------------------------------- class names
def _not_blank(name: str) -> str:
    if not name.strip():
        raise PydanticCustomError(
            "blank", "a class name must not be empty or blank; name the class"
        )
    return name


ClassName = Annotated[str, AfterValidator(_not_blank)]


class ClassNames(RootModel[list[ClassName]]):
    """``class_names``: at least two distinct, non-blank names, in label order."""

    root: list[ClassName] = Field(min_length=2)

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

    # A list to its readers (a notebook, a node): pydantic's recipe for list roots.
    def __iter__(self):
        return iter(self.root)

    def __getitem__(self, index: int) -> str:
        return self.root[index]

    def __len__(self) -> int:
        return len(self.root)

    def __str__(self) -> str:
        # What kedro-mlflow logs as the `class_names` param: the list, as in the YAML.
        return str(self.root)


# ---------------------------------------------------------------- inference
class Conversion(BaseModel):
    """``inference.conversion``: how an image is brought to Fashion-MNIST's format."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    invert: Literal["auto", "always", "never"]
    background_threshold: int = Field(ge=0, le=254)
    sharpen: bool


class Grid(BaseModel):
    """``inference.grid``: the figure of the converted images and their predictions."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cols: int = Field(ge=1, le=MAX_GRID_IMAGES)
    max_images: int = Field(ge=1, le=MAX_GRID_IMAGES)
    dpi: int = Field(ge=50, le=300)
    # name: file name order; least_confident: lowest predicted probability first.
    order: Literal["name", "least_confident"] = "name"


class InferenceParams(BaseModel):
    """The ``inference`` group (``conf/base/parameters_inference.yml``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    conversion: Conversion
    grid: Grid
    # A prediction less probable than this is counted (and named) in the summary log line.
    min_confidence: float = Field(default=0.5, gt=0, le=1)
    # Given on the command line (--params inference.images_dir=<folder>) for the
    # catalog's inference_images and inference_model entries; the nodes ignore them.
    images_dir: str | None = None
    model_uri: str | None = None
