"""The ``tuning`` group: the study's settings and its search space."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)
from pydantic_core import PydanticCustomError

from .training import Hyperparameters

SEARCHABLE = (
    "batch_size",
    "init_std",
    "lr",
    "lr_schedule",
    "num_epochs",
    "standardize",
    "weight_decay",
)


@dataclass(frozen=True)
class Dimension:
    """One searched training parameter."""

    name: str
    kind: Literal["float", "int", "categorical"]
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()

    def suggest(self, trial: Any) -> Any:
        """This dimension's value for an ``optuna.Trial``."""
        if self.kind == "float":
            return trial.suggest_float(self.name, self.low, self.high, log=self.log)
        if self.kind == "int":
            return trial.suggest_int(
                self.name, int(self.low), int(self.high), log=self.log
            )
        return trial.suggest_categorical(self.name, list(self.choices))


def _number(value: Any, where: str) -> float | int | None:
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int | float)
    ):
        raise PydanticCustomError(
            "not_a_number",
            "{where} = {value}: must be a number",
            {"where": where, "value": repr(value)},
        )
    return value


def _dimension(name: str, spec: Any) -> Dimension:
    """One search-space entry as a :class:`Dimension`; raises naming the entry."""
    where = f"tuning.search_space.{name}"
    if name not in SEARCHABLE:
        raise PydanticCustomError(
            "unknown_parameter",
            "{where}: unknown parameter; searchable ones are {searchable}",
            {"where": where, "searchable": list(SEARCHABLE)},
        )
    if not isinstance(spec, dict):
        raise PydanticCustomError(
            "not_a_mapping",
            "{where} = {spec}: must be a mapping, e.g. {type: float, low: 0.01, "
            "high: 1.0} or {type: categorical, choices: [...]}",
            {"where": where, "spec": repr(spec)},
        )
    kind = spec.get("type")
    if kind in ("float", "int"):
        low = _number(spec.get("low"), f"{where}.low")
        high = _number(spec.get("high"), f"{where}.high")
        log = bool(spec.get("log", False))
        if low is None or high is None or not low < high:
            raise PydanticCustomError(
                "empty_range",
                "{where}: empty range low={low}, high={high}; need low < high",
                {"where": where, "low": low, "high": high},
            )
        if log and low <= 0:
            raise PydanticCustomError(
                "log_range",
                "{where}: a log range needs low > 0, got low={low}",
                {"where": where, "low": low},
            )
        dimension, samples = (
            Dimension(name, kind, float(low), float(high), log),
            [low, high],
        )
    elif kind == "categorical":
        choices = spec.get("choices") or ()
        if not isinstance(choices, list | tuple):
            raise PydanticCustomError(
                "not_a_list",
                "{where}.choices = {choices}: must be a list of values",
                {"where": where, "choices": repr(choices)},
            )
        if not choices:
            raise PydanticCustomError(
                "no_choices", "{where}: no choices", {"where": where}
            )
        dimension = Dimension(name, "categorical", choices=tuple(choices))
        samples = list(dimension.choices)
    else:
        raise PydanticCustomError(
            "unknown_type",
            "{where}: type must be float, int or categorical, got {kind}",
            {"where": where, "kind": repr(kind)},
        )
    for value in samples:  # as written: an int bound stays an int
        try:
            Hyperparameters.model_validate({name: value})
        except ValidationError as exc:
            raise PydanticCustomError(
                "invalid_value",
                "{where}: value {value} is invalid: {message}",
                {
                    "where": where,
                    "value": repr(value),
                    "message": exc.errors()[0]["msg"],
                },
            ) from None
    return dimension


class TuningParams(BaseModel):
    """The ``tuning`` group (``conf/base/parameters_tuning.yml``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: Literal["scratch", "concise"] = "scratch"
    study_name: str = Field("fashion_mnist_softmax", min_length=1)
    n_trials: int = Field(24, ge=1)
    timeout_s: float | None = Field(None, gt=0)
    sampler_seed: int = 0
    n_startup_trials: int = Field(10, ge=1)
    fixed: dict[str, Any] = {}
    validation: dict[str, int] = {"size": 10000, "seed": 0}
    pruner: dict[str, int] = {"n_startup_trials": 5, "n_warmup_steps": 3}
    search_space: dict[str, Any]

    @field_validator("fixed")
    @classmethod
    def _fixed_are_training_values(cls, fixed: dict[str, Any]) -> dict[str, Any]:
        try:
            Hyperparameters.model_validate(fixed)
        except ValidationError as exc:
            error = exc.errors()[0]
            raise PydanticCustomError(
                "invalid_fixed",
                "tuning.fixed.{where} = {value}: {message}",
                {
                    "where": ".".join(map(str, error["loc"])),
                    "value": repr(error.get("input")),
                    "message": error["msg"],
                },
            ) from None
        return fixed

    @field_validator("search_space")
    @classmethod
    def _a_valid_search_space(cls, space: dict[str, Any]) -> dict[str, Any]:
        if not space:
            raise PydanticCustomError(
                "empty_space",
                "tuning.search_space is empty: name at least one training parameter",
            )
        for name, spec in space.items():
            _dimension(name, spec)
        return space

    def dimensions(self) -> list[Dimension]:
        """One :class:`Dimension` per search-space entry, in the file's order."""
        return [_dimension(name, spec) for name, spec in self.search_space.items()]
