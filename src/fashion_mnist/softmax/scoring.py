"""Scoring a model: losses, accuracies, the confusion matrix, the probability table."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from fashion_mnist.schemas import SoftmaxWeights, check_model, table_to_arrays

from .maths import pixel_logits


def check_classes(model: SoftmaxWeights, class_names: list[str]) -> None:
    """Refuse class names whose number differs from the model's outputs.

    Raises:
        ValueError: Naming the parameter ``class_names`` and both numbers.
    """
    if len(class_names) != model["bias"].shape[0]:
        raise ValueError(
            f"parameter 'class_names' lists {len(class_names)} classes but the "
            f"model has {model['bias'].shape[0]} outputs; list one name per output"
        )


def _finite(name: str, value: float) -> float:
    """``value`` as a plain float that JSON can save; NaN and inf are refused."""
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(
            f"metric {name} is {value}: the model's logits overflow float32; "
            "retrain it with a lower training.lr"
        )
    return value


def confusion_matrix(
    y: torch.Tensor, predicted: torch.Tensor, num_classes: int
) -> torch.Tensor:
    """Count (true, predicted) pairs in one ``bincount``.

    Args:
        y: True classes, shape (n,), ``int64``.
        predicted: Predicted classes, shape (n,), ``int64``.
        num_classes: k.

    Returns:
        ``int64`` tensor (k, k): row = true class, column = predicted class.
    """
    flat = torch.bincount(y * num_classes + predicted, minlength=num_classes**2)
    return flat.reshape(num_classes, num_classes)


def evaluate(
    model: SoftmaxWeights,
    train: pd.DataFrame,
    test: pd.DataFrame,
    class_names: list[str],
) -> dict[str, Any]:
    """Score a model on both full splits, in batched tensor operations.

    The loss is the true mean cross-entropy over each split (what
    ``F.cross_entropy`` gives on the whole split), not a mean of batch means.

    Args:
        model: ``weight`` (k, 784) and ``bias`` (k,), ``float32``.
        train: Training table: ``label`` and 784 ``uint8`` pixel columns.
        test: Test table, same layout.
        class_names: The k class names, in label order.

    Returns:
        ``train_loss``, ``train_acc``, ``test_loss``, ``test_acc`` (floats),
        ``test_per_class_acc`` (class name to accuracy, ``None`` for a class
        absent from the test split) and ``test_confusion_matrix`` (k×k counts,
        row = true class, column = predicted), plus ``class_names``.

    Raises:
        ValueError: When ``class_names`` and the model's outputs differ in
            number, the model breaks the model contract (NaN or infinite
            values), or a metric is not finite.
    """
    check_classes(model, class_names)
    check_model(model, len(class_names), "the model")
    metrics: dict[str, Any] = {}
    for split, table in [("train", train), ("test", test)]:
        X, y_array = table_to_arrays(table, split)
        with torch.no_grad():
            logits, y = pixel_logits(model, X), torch.as_tensor(y_array)
        predicted = logits.argmax(dim=1)
        loss = F.cross_entropy(logits, y).item()
        metrics[f"{split}_loss"] = _finite(f"{split}_loss", loss)
        metrics[f"{split}_acc"] = (predicted == y).double().mean().item()
    counts = confusion_matrix(y, predicted, len(class_names))
    support = counts.sum(dim=1)
    metrics["test_per_class_acc"] = {
        name: counts[k, k].item() / support[k].item() if support[k] else None
        for k, name in enumerate(class_names)
    }
    metrics["test_confusion_matrix"] = counts.tolist()
    metrics["class_names"] = list(class_names)
    return metrics


def probability_table(
    model: SoftmaxWeights, X: np.ndarray, predicted_column: str = "predicted"
) -> pd.DataFrame:
    """The one table of predictions: the predicted class and every probability.

    Evaluation, inference and the server build their predictions here, so one
    image gets the same numbers everywhere: pixels scaled to [0, 1], logits
    ``X @ W.T + b`` (2048 rows at a time), then ``torch.softmax``.

    Args:
        model: ``weight`` (k, 784) and ``bias`` (k,), ``float32``, finite.
        X: Raw pixels, shape (n, 784), ``uint8`` in 0-255.
        predicted_column: The name of the predicted class's column.

    Returns:
        One row per image: ``predicted_column`` (``int64``, the argmax of the
        logits) and ``proba_0`` ... ``proba_<k-1>`` (``float32``, each row sums
        to 1).
    """
    with torch.no_grad():
        logits = pixel_logits(model, np.require(X, requirements="C"))
        probs = torch.softmax(logits, dim=1).numpy()
    table = pd.DataFrame(probs, columns=[f"proba_{k}" for k in range(probs.shape[1])])
    table.insert(0, predicted_column, logits.argmax(dim=1).numpy().astype(np.int64))
    return table
