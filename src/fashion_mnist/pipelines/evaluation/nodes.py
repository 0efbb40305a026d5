"""Evaluation nodes: each model's metrics and test predictions, then the comparison.

The scoring lives in :mod:`fashion_mnist.softmax`, imported when a node runs:
every ``kedro`` command imports this module, and torch takes a second.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from fashion_mnist.params import ClassNames
from fashion_mnist.schemas import LABEL_COLUMN, SoftmaxWeights, table_to_arrays

COMPARISON_COLUMNS = [
    "model",
    "train_loss",
    "train_acc",
    "test_loss",
    "test_acc",
    "trained_in_run",
    "trained_in_this_run",
]


def evaluate_model(
    model: SoftmaxWeights,
    train: pd.DataFrame,
    test: pd.DataFrame,
    class_names: ClassNames,
) -> dict[str, Any]:
    """Score a model on both full splits.

    Args:
        model: ``weight`` (10, 784) and ``bias`` (10,), ``float32``.
        train: Training table: ``label`` and 784 ``uint8`` pixel columns.
        test: Test table, same layout.
        class_names: The k class names, in label order.

    Returns:
        ``train_loss``, ``train_acc``, ``test_loss``, ``test_acc`` (floats),
        ``test_per_class_acc`` (class name to accuracy, ``None`` for a class
        absent from the test split), ``test_confusion_matrix`` (k×k counts,
        row = true class) and ``class_names``.

    Raises:
        ValueError: When ``class_names`` and the model's outputs differ in
            number, the model holds NaN or infinite values, or a metric is not
            finite.
    """
    from fashion_mnist.softmax import evaluate

    return evaluate(model, train, test, class_names.root)


def predict_split(model: SoftmaxWeights, table: pd.DataFrame) -> pd.DataFrame:
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
    from fashion_mnist.schemas import check_model
    from fashion_mnist.softmax import probability_table

    check_model(model, model["bias"].shape[0], "the model")
    X, y = table_to_arrays(table)
    predictions = probability_table(model, X)
    predictions.insert(0, LABEL_COLUMN, y)
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
