"""Training nodes: the hand-written softmax regression and the ``torch.nn`` one.

torch, numpy, pandas and tqdm are imported by the nodes when they run, never at
import time: every ``kedro`` command (``kedro registry list`` too) imports this
module, and the parameter checks read its parameter models before any node runs.
"""

from __future__ import annotations

import logging
import math
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fashion_mnist.models import MODELS
from fashion_mnist.tables import LABEL_COLUMN, table_to_arrays

if TYPE_CHECKING:
    import pandas as pd
    import torch

logger = logging.getLogger(__name__)

HISTORY_COLUMNS = ["epoch", "train_loss", "train_acc", "test_acc"]


class TrainingDivergedError(RuntimeError):
    """The train loss or the weights stopped being finite numbers."""


class Hyperparameters(BaseModel):
    """What one training run needs; the defaults are the classic exercise's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    batch_size: int = Field(256, gt=0)
    lr: float = Field(0.1, gt=0)
    num_epochs: int = Field(10, ge=1)
    init_std: float = Field(0.01, ge=0)
    weight_decay: float = Field(0.0, ge=0)
    lr_schedule: Literal["constant", "cosine", "linear"] = "constant"
    standardize: bool = False
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"


class _Overrides(BaseModel):
    """Per-model values that replace the shared ones; unset fields keep them."""

    model_config = ConfigDict(extra="forbid")

    batch_size: int | None = Field(None, gt=0)
    lr: float | None = Field(None, gt=0)
    num_epochs: int | None = Field(None, ge=1)
    init_std: float | None = Field(None, ge=0)
    weight_decay: float | None = Field(None, ge=0)
    lr_schedule: Literal["constant", "cosine", "linear"] | None = None
    standardize: bool | None = None
    seed: int | None = None
    device: Literal["auto", "cpu", "cuda"] | None = None


class TrainingParams(Hyperparameters):
    """The ``training`` parameter group: shared values plus per-model overrides."""

    scratch: _Overrides = _Overrides()
    concise: _Overrides = _Overrides()


def resolve_hyperparameters(params: dict[str, Any], model: str) -> Hyperparameters:
    """Validate the whole ``training`` group and return one model's settings.

    Both models' settings are checked, so a bad value anywhere stops the run
    before either model trains.

    Args:
        params: The ``training`` parameters (``conf/base/parameters_training.yml``).
        model: ``"scratch"`` or ``"concise"``.

    Returns:
        The shared values with the model's overrides applied.

    Raises:
        ValueError: Naming each bad parameter (``training.lr``) and its value.
    """
    from fashion_mnist.softmax import resolve_device

    try:
        parsed = TrainingParams.model_validate(params)
        shared = parsed.model_dump(exclude=set(MODELS))
        resolved = {
            name: Hyperparameters.model_validate(
                {**shared, **getattr(parsed, name).model_dump(exclude_none=True)}
            )
            for name in MODELS
        }
    except ValidationError as exc:
        problems = "; ".join(
            f"training.{'.'.join(map(str, err['loc']))} = {err.get('input')!r}: {err['msg']}"
            for err in exc.errors()
        )
        raise ValueError(f"Invalid training parameters: {problems}") from None
    for name, hyper in resolved.items():
        try:
            resolve_device(hyper.device)
        except ValueError as exc:
            overridden = getattr(parsed, name).device is not None
            where = f"training.{name}.device" if overridden else "training.device"
            raise ValueError(f"Invalid training parameters: {where}: {exc}") from None
    return resolved[model]


def lr_factor(schedule: str, step: int, total_steps: int) -> float:
    """The learning rate's multiplier at SGD step ``step`` (0-based) of ``total_steps``.

    ``constant``: 1. ``cosine``: ``(1 + cos(pi * step / total_steps)) / 2``,
    from 1 down towards 0. ``linear``: ``1 - step / total_steps``. The decay
    lets SGD settle in the optimum instead of jittering around it.
    """
    if schedule == "constant":
        return 1.0
    fraction = step / total_steps
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * fraction))
    return 1.0 - fraction


def _init_weight(generator: torch.Generator, std: float) -> torch.Tensor:
    """N(0, std) weights in ``nn.Linear``'s (10, 784) layout, drawn on the CPU."""
    import torch

    return torch.randn(10, 784, generator=generator) * std


class _Fit:
    """The loop both nodes share: data on the device once, seeded batches, history."""

    def __init__(
        self, train: pd.DataFrame, test: pd.DataFrame, hyper: Hyperparameters, name: str
    ):
        import torch

        from fashion_mnist.softmax import resolve_device, to_features

        self.hyper = hyper
        self.name = name
        self.device = resolve_device(hyper.device)
        X, y = table_to_arrays(train, "train")
        X_test, y_test = table_to_arrays(test, "test")
        self.y = torch.as_tensor(y, device=self.device)
        self.X_test = to_features(X_test, self.device)
        self.y_test = torch.as_tensor(y_test, device=self.device)
        self.generator = torch.Generator().manual_seed(hyper.seed)
        self.mean = self.scale = None
        # Raw pixels stay uint8 on the device, a quarter of float32's memory;
        # each batch is scaled as to_features scales a whole split, so every
        # number is the same as with a float copy of the split.
        self.X = torch.as_tensor(X).to(self.device)
        if hyper.standardize:
            self.X = to_features(X, self.device)
            # Per-pixel statistics of the training split only; constant pixels keep scale 1/255.
            self.mean = self.X.mean(dim=0)
            self.scale = self.X.std(dim=0).clamp_min(1 / 255)
            self.X.sub_(self.mean).div_(self.scale)
            self.X_test.sub_(self.mean).div_(self.scale)

    def batch(self, idx: torch.Tensor) -> torch.Tensor:
        """The features of rows ``idx``, ``float32``."""
        rows = self.X.index_select(0, idx)  # much faster than X[idx] here
        if rows.dtype == self.X_test.dtype:  # already scaled (standardize)
            return rows
        return rows.to(self.X_test.dtype).div_(255.0)

    def export(
        self, weight: torch.Tensor, bias: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """The model on the CPU, for raw [0, 1] features: standardization folded in.

        ``W @ ((x - mean) / scale) + b`` equals ``(W / scale) @ x + (b - (W / scale) @ mean)``.
        """
        weight, bias = weight.detach(), bias.detach()
        if self.scale is not None:
            weight = weight / self.scale
            bias = bias - weight @ self.mean
        return {"weight": weight.cpu().contiguous(), "bias": bias.cpu().contiguous()}

    def run(
        self,
        step: Callable[
            [torch.Tensor, torch.Tensor, float], tuple[torch.Tensor, torch.Tensor]
        ],
        predict: Callable[[torch.Tensor], torch.Tensor],
        weights: Sequence[torch.Tensor],
        on_epoch: Callable[[dict[str, float]], None] | None = None,
    ) -> pd.DataFrame:
        """Train for ``num_epochs`` with ``step``, which updates the parameters on
        one batch with the given learning rate (``lr`` times the schedule's
        factor) and returns the batch's logits and mean loss, both detached.

        ``on_epoch``, when given, receives each epoch's history row; it may
        raise to stop training (a hyperparameter sweep prunes trials this way).

        Returns:
            The per-epoch history: epoch, train loss, train accuracy, test accuracy.

        Raises:
            TrainingDivergedError: At the first epoch whose train loss or
                ``weights`` are not finite.
        """
        import pandas as pd
        import torch
        from tqdm import tqdm  # the console bar: tqdm.auto would import IPython

        n, batch_size, epochs = (
            len(self.y),
            self.hyper.batch_size,
            self.hyper.num_epochs,
        )
        rows = []
        total_steps = epochs * math.ceil(n / batch_size)
        schedule, t = self.hyper.lr_schedule, 0
        bar = tqdm(
            range(1, epochs + 1),
            desc=self.name,
            unit="epoch",
            disable=not sys.stderr.isatty(),
        )
        for epoch in bar:
            order = torch.randperm(n, generator=self.generator).to(self.device)
            loss_sum = torch.zeros((), device=self.device)
            correct = torch.zeros((), dtype=torch.int64, device=self.device)
            for start in range(0, n, batch_size):
                idx = order[start : start + batch_size]
                y = self.y.index_select(0, idx)
                lr = self.hyper.lr * lr_factor(schedule, t, total_steps)
                t += 1
                logits, loss = step(self.batch(idx), y, lr)
                # Weighted by batch size, so the epoch mean counts a short last batch right.
                loss_sum.add_(loss, alpha=len(y))
                correct.add_((logits.argmax(dim=1) == y).sum())
            with torch.no_grad():
                test_correct = (predict(self.X_test).argmax(dim=1) == self.y_test).sum()
            row = {
                "epoch": epoch,
                "train_loss": loss_sum.item() / n,
                "train_acc": correct.item() / n,
                "test_acc": test_correct.item() / len(self.y_test),
            }
            rows.append(row)
            logger.info(
                "%s: epoch %d/%d loss %.4f train acc %.4f test acc %.4f",
                self.name,
                epoch,
                epochs,
                row["train_loss"],
                row["train_acc"],
                row["test_acc"],
            )
            self._check_finite(epoch, row["train_loss"], weights)
            bar.set_postfix(
                loss=f"{row['train_loss']:.4f}", test_acc=f"{row['test_acc']:.4f}"
            )
            if on_epoch is not None:
                on_epoch(row)
        return pd.DataFrame(rows, columns=HISTORY_COLUMNS)

    def _check_finite(
        self, epoch: int, train_loss: float, weights: Sequence[torch.Tensor]
    ) -> None:
        """Stop at the epoch that diverged; once per epoch, one sync for the weights."""
        import torch

        loss_ok = math.isfinite(train_loss)
        # A last step can overflow the weights while the epoch's loss is still finite.
        if loss_ok and torch.stack([torch.isfinite(w).all() for w in weights]).all():
            return
        what = f"train loss {train_loss:.4g}" + (
            ", weights not finite" if loss_ok else ""
        )
        raise TrainingDivergedError(
            f"{self.name}: training diverged at epoch {epoch} ({what}): lower "
            f"training.lr (now {self.hyper.lr:g}) or training.{self.name}.lr"
        )


def train_scratch(
    train: pd.DataFrame,
    test: pd.DataFrame,
    params: dict[str, Any],
    on_epoch: Callable[[dict[str, float]], None] | None = None,
) -> tuple[dict[str, torch.Tensor], pd.DataFrame]:
    """Train softmax regression written by hand: own softmax, loss, gradient and SGD step.

    The weight is held as ``W`` of shape (10, 784), ``nn.Linear``'s layout, and the
    logits are ``X @ W.T + b`` (the textbook's ``X @ W`` with ``W`` transposed,
    about twice as fast here). The loss is the batch mean of the cross-entropy,
    so its gradient is ``(softmax(logits) - onehot(y)).T @ X / n`` for ``W`` and
    the column sums of the same difference, divided by ``n``, for ``b``; the SGD
    step is ``param -= lr * (grad + weight_decay * param)``, exactly what
    ``torch.optim.SGD`` does for the concise model.

    Args:
        train: Training table: ``label`` and 784 ``uint8`` pixel columns.
        test: Test table, same layout; only scored, once per epoch.
        params: The ``training`` parameters; ``params["scratch"]`` overrides.
        on_epoch: Called with each epoch's history row (not used by the pipeline;
            the sweep reports validation accuracy to Optuna through it).

    Returns:
        The model (``weight`` (10, 784) and ``bias`` (10,), ``float32`` on the
        CPU) and the history table (epoch, train_loss, train_acc, test_acc).

    Raises:
        ValueError: Naming each invalid parameter, or a table that breaks the
            table contract.
        TrainingDivergedError: When the loss or the weights stop being finite,
            naming the epoch and the learning rate to lower.
    """
    import torch

    from fashion_mnist.softmax import linear_logits, log_softmax, nll

    hyper = resolve_hyperparameters(params, "scratch")
    fit = _Fit(train, test, hyper, "scratch")
    W = _init_weight(fit.generator, hyper.init_std).to(fit.device)
    b = torch.zeros(10, device=fit.device)
    model = {"weight": W, "bias": b}  # the same tensors, updated in place
    decay = hyper.weight_decay

    def step(
        X: torch.Tensor, y: torch.Tensor, lr: float
    ) -> tuple[torch.Tensor, torch.Tensor]:
        logits = linear_logits(model, X)
        log_p = log_softmax(logits)
        loss = nll(log_p, y)
        delta = log_p.exp_()  # softmax(logits), reusing the log-sum-exp above
        delta[torch.arange(len(y), device=y.device), y] -= 1.0
        delta /= len(y)
        grad_W = delta.T @ X
        grad_b = delta.sum(dim=0)
        if decay:
            grad_W += decay * W
            grad_b += decay * b
        W.sub_(lr * grad_W)
        b.sub_(lr * grad_b)
        return logits, loss

    history = fit.run(step, lambda X: linear_logits(model, X), (W, b), on_epoch)
    return fit.export(W, b), history


def train_concise(
    train: pd.DataFrame,
    test: pd.DataFrame,
    params: dict[str, Any],
    on_epoch: Callable[[dict[str, float]], None] | None = None,
) -> tuple[dict[str, torch.Tensor], pd.DataFrame]:
    """Train softmax regression built from ``torch.nn`` and ``torch.optim``.

    ``nn.Sequential(nn.Flatten(), nn.Linear(784, 10))`` with weights from
    N(0, init_std) and a zero bias, ``nn.CrossEntropyLoss`` (batch mean) and
    ``torch.optim.SGD(lr, weight_decay)``.

    Args:
        train: Training table: ``label`` and 784 ``uint8`` pixel columns.
        test: Test table, same layout; only scored, once per epoch.
        params: The ``training`` parameters; ``params["concise"]`` overrides.
        on_epoch: Called with each epoch's history row (see ``train_scratch``).

    Returns:
        The model (``weight`` (10, 784) and ``bias`` (10,), ``float32`` on the
        CPU) and the history table (epoch, train_loss, train_acc, test_acc).

    Raises:
        ValueError: Naming each invalid parameter, or a table that breaks the
            table contract.
        TrainingDivergedError: When the loss or the weights stop being finite,
            naming the epoch and the learning rate to lower.
    """
    import torch
    from torch import nn

    hyper = resolve_hyperparameters(params, "concise")
    fit = _Fit(train, test, hyper, "concise")
    # skip_init: nn.Linear's own initialisation would draw from the global RNG.
    linear = nn.utils.skip_init(nn.Linear, 784, 10)
    with torch.no_grad():
        linear.weight.copy_(_init_weight(fit.generator, hyper.init_std))
        linear.bias.zero_()
    net = nn.Sequential(nn.Flatten(), linear).to(fit.device)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(
        net.parameters(), lr=hyper.lr, weight_decay=hyper.weight_decay
    )
    total_steps = hyper.num_epochs * math.ceil(len(train) / hyper.batch_size)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda t: lr_factor(hyper.lr_schedule, t, total_steps)
    )

    def step(
        X: torch.Tensor, y: torch.Tensor, lr: float
    ) -> tuple[torch.Tensor, torch.Tensor]:
        # lr is what the scheduler set on the optimizer: the scratch model's rate.
        logits = net(X)
        loss = loss_fn(logits, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        return logits.detach(), loss.detach()

    history = fit.run(step, net, (linear.weight, linear.bias), on_epoch)
    return fit.export(linear.weight, linear.bias), history


# The node function of each model in MODELS: the training template's only difference.
TRAINERS: dict[str, Callable[..., tuple[dict[str, torch.Tensor], pd.DataFrame]]] = {
    "scratch": train_scratch,
    "concise": train_concise,
}


def split_validation(
    train: pd.DataFrame, size: int, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Carve a class-stratified validation split out of the training table.

    Args:
        train: Training table: ``label`` and 784 ``uint8`` pixel columns.
        size: Rows in the validation split, shared equally between classes
            (each class gives ``size // k`` rows, the remainder to the first classes).
        seed: Seeds the choice of rows.

    Returns:
        ``(fit, validation)``: disjoint tables, together the whole of ``train``,
        each in the original row order.

    Raises:
        ValueError: When ``size`` is not between 1 and the number of rows, or a
            class has too few rows.
    """
    import numpy as np
    import torch

    if not 0 < size < len(train):
        raise ValueError(
            f"validation size must be between 1 and {len(train) - 1}, got {size}"
        )
    generator = torch.Generator().manual_seed(seed)
    labels = torch.tensor(train[LABEL_COLUMN].to_numpy(dtype=np.int64))
    classes = torch.unique(labels)
    per_class = [
        size // len(classes) + (i < size % len(classes)) for i in range(len(classes))
    ]
    chosen = []
    for k, count in zip(classes.tolist(), per_class, strict=True):
        rows = torch.nonzero(labels == k).flatten()
        if count > len(rows):
            raise ValueError(
                f"class {k} has {len(rows)} rows, fewer than the {count} asked for"
            )
        chosen.append(rows[torch.randperm(len(rows), generator=generator)[:count]])
    is_validation = torch.zeros(len(train), dtype=torch.bool)
    is_validation[torch.cat(chosen)] = True
    mask = is_validation.numpy()
    return train[~mask].reset_index(drop=True), train[mask].reset_index(drop=True)
