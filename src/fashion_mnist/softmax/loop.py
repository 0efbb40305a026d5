"""The loop both models share: data on the device once, seeded batches, history."""

from __future__ import annotations

import logging
import math
import sys
from collections.abc import Callable, Sequence

import pandas as pd
import torch
from tqdm import tqdm  # the console bar: tqdm.auto would import IPython

from fashion_mnist.params import Hyperparameters
from fashion_mnist.schemas import SoftmaxWeights, table_to_arrays

from .maths import resolve_device, to_features

logger = logging.getLogger(__name__)

HISTORY_COLUMNS = ["epoch", "train_loss", "train_acc", "test_acc"]


class TrainingDivergedError(RuntimeError):
    """The train loss or the weights stopped being finite numbers."""


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


class Fit:
    """The loop both nodes share: data on the device once, seeded batches, history."""

    def __init__(
        self, train: pd.DataFrame, test: pd.DataFrame, hyper: Hyperparameters, name: str
    ):
        self.hyper = hyper
        self.name = name
        # The split the per-epoch accuracy is measured on, for the log: a sweep scores "val".
        self.scored_on = test.attrs.get("split", "test")
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

    def export(self, weight: torch.Tensor, bias: torch.Tensor) -> SoftmaxWeights:
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
                "%s: epoch %d/%d loss %.4f train acc %.4f %s acc %.4f",
                self.name,
                epoch,
                epochs,
                row["train_loss"],
                row["train_acc"],
                self.scored_on,
                row["test_acc"],
            )
            self._check_finite(epoch, row["train_loss"], weights)
            bar.set_postfix(
                {
                    "loss": f"{row['train_loss']:.4f}",
                    f"{self.scored_on}_acc": f"{row['test_acc']:.4f}",
                }
            )
            if on_epoch is not None:
                on_epoch(row)
        return pd.DataFrame(rows, columns=HISTORY_COLUMNS)

    def _check_finite(
        self, epoch: int, train_loss: float, weights: Sequence[torch.Tensor]
    ) -> None:
        """Stop at the epoch that diverged; once per epoch, one sync for the weights."""
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
