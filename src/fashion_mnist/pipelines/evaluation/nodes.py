"""Evaluation nodes: losses, accuracies, per-class accuracy and confusion matrices.

torch and pandas are imported by the nodes when they run, never at import time:
every ``kedro`` command (``kedro registry list`` too) imports this module.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from fashion_mnist.tables import LABEL_COLUMN, table_to_arrays

if TYPE_CHECKING:
    import pandas as pd
    import torch

COMPARISON_COLUMNS = [
    "model",
    "train_loss",
    "train_acc",
    "test_loss",
    "test_acc",
    "trained_in_run",
    "trained_in_this_run",
]


def check_finite_model(model: dict[str, torch.Tensor]) -> None:
    """Refuse a model holding NaN or infinite values: its scores would be NaN.

    Args:
        model: ``weight`` (10, 784) and ``bias`` (10,), ``float32``.

    Raises:
        ValueError: Naming each key that holds non-finite values, and how many.
    """
    import torch

    bad = {
        key: int((~torch.isfinite(tensor)).sum())
        for key, tensor in model.items()
        if not torch.isfinite(tensor).all()
    }
    if bad:
        counts = ", ".join(
            f"{key!r} ({n} of {model[key].numel()})" for key, n in bad.items()
        )
        raise ValueError(
            f"the model holds NaN or infinite values in {counts}: its training "
            "diverged; retrain it with a lower training.lr"
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


def _logits_and_labels(
    model: dict[str, torch.Tensor], table: pd.DataFrame, name: str = "table"
) -> tuple[torch.Tensor, torch.Tensor]:
    import torch

    from fashion_mnist.softmax import pixel_logits

    X, y = table_to_arrays(table, name)
    with torch.no_grad():
        return pixel_logits(model, X), torch.as_tensor(y)


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
    import torch

    flat = torch.bincount(y * num_classes + predicted, minlength=num_classes**2)
    return flat.reshape(num_classes, num_classes)


def evaluate_model(
    model: dict[str, torch.Tensor],
    train: pd.DataFrame,
    test: pd.DataFrame,
    class_names: list[str],
) -> dict[str, Any]:
    """Score a model on both full splits, in batched tensor operations.

    The loss is the true mean cross-entropy over each split (what
    ``F.cross_entropy`` gives on the whole split), not a mean of batch means.

    Args:
        model: ``weight`` (10, 784) and ``bias`` (10,), ``float32``.
        train: Training table: ``label`` and 784 ``uint8`` pixel columns.
        test: Test table, same layout.
        class_names: The k class names, in label order.

    Raises:
        ValueError: When ``class_names`` and the model's outputs differ in
            number, the model holds NaN or infinite values, or a metric is not
            finite.

    Returns:
        ``train_loss``, ``train_acc``, ``test_loss``, ``test_acc`` (floats),
        ``test_per_class_acc`` (class name to accuracy, ``None`` for a class
        absent from the test split) and ``test_confusion_matrix`` (k×k counts,
        row = true class, column = predicted), plus ``class_names``.
    """
    import torch.nn.functional as F

    if len(class_names) != model["bias"].shape[0]:
        raise ValueError(
            f"parameter 'class_names' lists {len(class_names)} classes but the "
            f"model has {model['bias'].shape[0]} outputs"
        )
    check_finite_model(model)
    metrics: dict[str, Any] = {}
    for split, table in [("train", train), ("test", test)]:
        logits, y = _logits_and_labels(model, table, split)
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


def predict_split(model: dict[str, torch.Tensor], table: pd.DataFrame) -> pd.DataFrame:
    """Predict every image of a split, with the class probabilities.

    Args:
        model: ``weight`` (10, 784) and ``bias`` (10,), ``float32``.
        table: ``label`` and 784 ``uint8`` pixel columns.

    Returns:
        One row per image, in the table's order: ``label``, ``predicted``
        (``int64``) and ``proba_0`` … ``proba_9`` (``float32``, rows sum to 1).

    Raises:
        ValueError: When the model holds NaN or infinite values.
    """
    import pandas as pd
    import torch

    check_finite_model(model)
    logits, y = _logits_and_labels(model, table)
    probs = torch.softmax(logits, dim=1).numpy()
    predictions = pd.DataFrame(
        probs, columns=[f"proba_{k}" for k in range(probs.shape[1])]
    )
    predictions.insert(0, "predicted", logits.argmax(dim=1).numpy())
    predictions.insert(0, LABEL_COLUMN, y.numpy())
    return predictions


def compare_models(
    provenance: dict[str, dict[str, Any]], **metrics_by_model: dict[str, Any]
) -> pd.DataFrame:
    """Put each model's headline metrics in one table, with the run that trained it.

    Args:
        provenance: Per model, ``run_id`` (the MLflow run that trained it, ``""``
            when unknown) and ``this_run`` (whether this run trained it).
        **metrics_by_model: Each model's metrics from ``evaluate_model``, keyed
            by model name.

    Returns:
        One row per model: model, train_loss, train_acc, test_loss, test_acc,
        trained_in_run, trained_in_this_run.
    """
    import pandas as pd

    rows = [
        {
            "model": name,
            **{c: metrics[c] for c in COMPARISON_COLUMNS[1:5]},
            "trained_in_run": provenance.get(name, {}).get("run_id", ""),
            "trained_in_this_run": bool(provenance.get(name, {}).get("this_run")),
        }
        for name, metrics in metrics_by_model.items()
    ]
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)


def tracking_metrics(metrics: dict[str, Any], history: pd.DataFrame) -> dict[str, Any]:
    """Lay out a model's metrics as MLflow metric histories (``step`` = epoch).

    Args:
        metrics: The model's metrics from ``evaluate_model``.
        history: The per-epoch training history (epoch, train_loss, train_acc,
            test_acc).

    Returns:
        ``{name: [{"step": epoch, "value": v}, ...]}``: one entry per epoch for
        ``train_loss``, ``train_acc`` and ``test_acc``, then the final
        ``final.train_loss`` … ``final.test_acc`` and
        ``final.test_acc.<class name>`` at the last epoch.
    """
    tracked: dict[str, Any] = {
        column: [
            {"step": int(epoch), "value": float(value)}
            for epoch, value in zip(history["epoch"], history[column], strict=True)
        ]
        for column in ["train_loss", "train_acc", "test_acc"]
    }
    last = int(history["epoch"].max())
    finals = {f"final.{name}": metrics[name] for name in COMPARISON_COLUMNS[1:5]}
    finals.update(
        {
            # MLflow's UI reads "/" as a section break ("T-shirt/top").
            f"final.test_acc.{name.replace('/', '_')}": value
            for name, value in metrics["test_per_class_acc"].items()
            if value is not None
        }
    )
    tracked.update({k: [{"step": last, "value": float(v)}] for k, v in finals.items()})
    return tracked
