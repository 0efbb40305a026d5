"""The ``training`` group: one model's hyperparameters, and per-model overrides."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    create_model,
)
from pydantic_core import PydanticCustomError

# The models this project trains; every per-model pipeline is built from this list.
MODELS = ("scratch", "concise")


def _cuda_if_asked(device: str) -> str:
    """Refuse ``cuda`` where torch sees none; torch is imported only then."""
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise PydanticCustomError(
                "no_cuda",
                "device 'cuda' was asked for but torch sees no CUDA device; "
                "set it to 'auto' or 'cpu'",
            )
    return device


Device = Annotated[Literal["auto", "cpu", "cuda"], AfterValidator(_cuda_if_asked)]

SEED_MAX = 2**64 - 1
"""The largest seed ``torch.Generator.manual_seed`` takes: 0 to 2**64 - 1 (a negative
one wraps around to a large one, and anything beyond overflows)."""


def _seed_in_range(seed: int) -> int:
    if not 0 <= seed <= SEED_MAX:
        raise PydanticCustomError(
            "seed_range",
            "seed {seed} is outside what torch.Generator.manual_seed takes: "
            "use a whole number from 0 to 2**64 - 1 ({max})",
            {"seed": seed, "max": SEED_MAX},
        )
    return seed


Seed = Annotated[int, AfterValidator(_seed_in_range)]
"""A seed for a ``torch.Generator``, checked against torch's range before any run."""


class Hyperparameters(BaseModel):
    """What one training run needs; the defaults are the classic exercise's."""

    # inf passes gt=0 and would reach torch as a diverging step or weight.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    batch_size: int = Field(256, gt=0)
    lr: float = Field(0.1, gt=0)
    num_epochs: int = Field(10, ge=1)
    init_std: float = Field(0.01, ge=0)
    weight_decay: float = Field(0.0, ge=0)
    lr_schedule: Literal["constant", "cosine", "linear"] = "constant"
    standardize: bool = False
    seed: Seed = 0
    device: Device = "auto"


def _constrained(annotation: Any, metadata: list[Any]) -> Any:
    """``annotation`` carrying a field's constraints (``gt=0``, validators)."""
    return Annotated[(annotation, *metadata)] if metadata else annotation


# Per-model values that replace the shared ones: each field of Hyperparameters,
# with its constraints, made optional (unset keeps the shared value).
Overrides = create_model(
    "Overrides",
    __config__=ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False),
    __doc__="Per-model values that replace the shared ones; unset fields keep them.",
    **{
        name: (_constrained(info.annotation, info.metadata) | None, None)
        for name, info in Hyperparameters.model_fields.items()
    },
)


class TrainingParams(Hyperparameters):
    """The ``training`` group: shared values plus per-model overrides."""

    scratch: Overrides = Overrides()  # type: ignore[valid-type]
    concise: Overrides = Overrides()  # type: ignore[valid-type]

    def for_model(self, name: str) -> Hyperparameters:
        """The shared values with model ``name``'s overrides applied."""
        shared = self.model_dump(exclude=set(MODELS))
        own = getattr(self, name).model_dump(exclude_none=True)
        return Hyperparameters.model_validate({**shared, **own})
