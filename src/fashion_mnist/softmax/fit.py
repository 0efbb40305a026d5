"""Both models' training: the hand-written softmax regression and the torch.nn one.

A model is ``weight`` (10, 784) and ``bias`` (10,), ``float32`` on the CPU
(:class:`fashion_mnist.schemas.SoftmaxWeights`). Randomness comes from a local
``torch.Generator`` seeded from the hyperparameters; global RNG state is left
untouched.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd
import torch
from torch import nn

from fashion_mnist.params import Hyperparameters
from fashion_mnist.schemas import LABEL_COLUMN, SoftmaxWeights

from .loop import Fit, lr_factor
from .maths import linear_logits, log_softmax, nll


def _init_weight(generator: torch.Generator, std: float) -> torch.Tensor:
    """N(0, std) weights in ``nn.Linear``'s (10, 784) layout, drawn on the CPU."""
    return torch.randn(10, 784, generator=generator) * std


def train_scratch(
    train: pd.DataFrame,
    test: pd.DataFrame,
    hyper: Hyperparameters,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
) -> tuple[SoftmaxWeights, pd.DataFrame]:
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
        hyper: The scratch model's resolved hyperparameters
            (``TrainingParams.for_model("scratch")``).
        on_epoch: Called with each epoch's history row (not used by the pipeline;
            the sweep reports validation accuracy to Optuna through it).

    Returns:
        The model (``weight`` (10, 784) and ``bias`` (10,), ``float32`` on the
        CPU) and the history table (epoch, train_loss, train_acc, test_acc).

    Raises:
        TrainingDivergedError: When the loss or the weights stop being finite,
            naming the epoch and the learning rate to lower.
    """
    fit = Fit(train, test, hyper, "scratch")
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
    hyper: Hyperparameters,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
) -> tuple[SoftmaxWeights, pd.DataFrame]:
    """Train softmax regression built from ``torch.nn`` and ``torch.optim``.

    ``nn.Sequential(nn.Flatten(), nn.Linear(784, 10))`` with weights from
    N(0, init_std) and a zero bias, ``nn.CrossEntropyLoss`` (batch mean) and
    ``torch.optim.SGD(lr, weight_decay)``.

    Args:
        train: Training table: ``label`` and 784 ``uint8`` pixel columns.
        test: Test table, same layout; only scored, once per epoch.
        hyper: The concise model's resolved hyperparameters
            (``TrainingParams.for_model("concise")``).
        on_epoch: Called with each epoch's history row (see ``train_scratch``).

    Returns:
        The model (``weight`` (10, 784) and ``bias`` (10,), ``float32`` on the
        CPU) and the history table (epoch, train_loss, train_acc, test_acc).

    Raises:
        TrainingDivergedError: When the loss or the weights stop being finite,
            naming the epoch and the learning rate to lower.
    """
    fit = Fit(train, test, hyper, "concise")
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
TRAINERS: dict[str, Callable[..., tuple[SoftmaxWeights, pd.DataFrame]]] = {
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
