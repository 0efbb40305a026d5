"""Evaluation nodes: each model's metrics and test predictions, then the comparison.

The scoring lives in :mod:`fashion_mnist.softmax`, imported when a node runs:
every ``kedro`` command imports this module, and torch takes a second.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from fashion_mnist.params import ClassNames, RegistryParams
from fashion_mnist.schemas import LABEL_COLUMN, SoftmaxWeights, table_to_arrays
from fashion_mnist.significance import (
    CONFIDENCE,
    INTERVAL_METHOD,
    mcnemar_exact,
    wilson_interval,
)

logger = logging.getLogger(__name__)

HEADLINE = ["train_loss", "train_acc", "test_loss", "test_acc"]
COMPARISON_COLUMNS = [
    "model",
    *HEADLINE,
    "test_acc_ci_low",
    "test_acc_ci_high",
    "diff_vs_best",
    "p_vs_best",
    "significant_vs_best",
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
        ``test_acc_ci_low`` and ``test_acc_ci_high`` (the 95 % Wilson score
        interval of the test accuracy, named in ``test_acc_ci``),
        ``test_per_class_acc`` (class name to accuracy, ``None`` for a class
        absent from the test split), ``test_confusion_matrix`` (k×k counts,
        row = true class) and ``class_names``.

    Raises:
        ValueError: When ``class_names`` and the model's outputs differ in
            number, the model holds NaN or infinite values, or a metric is not
            finite.
    """
    from fashion_mnist.softmax import evaluate

    metrics = evaluate(model, train, test, class_names.root)
    counts = np.asarray(metrics["test_confusion_matrix"])
    low, high = wilson_interval(np.trace(counts), counts.sum())
    metrics.update(
        test_acc_ci_low=low,
        test_acc_ci_high=high,
        test_acc_ci=f"{CONFIDENCE:.0%} {INTERVAL_METHOD} score interval",
    )
    return metrics


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


def predicted_classes(predictions: pd.DataFrame) -> pd.DataFrame:
    """Keep the true and the predicted class of each test image, for later pairing.

    Args:
        predictions: ``label``, ``predicted`` and the probabilities, one row
            per test image (from ``predict_split``).

    Returns:
        ``label`` and ``predicted`` (``int8``), same rows and order: what a
        later run needs for McNemar's test against this model, at 2 bytes
        an image.
    """
    return predictions[[LABEL_COLUMN, "predicted"]].astype("int8")


def compare_models(
    provenance: dict[str, dict[str, Any]],
    registry: RegistryParams,
    **evidence: Any,
) -> pd.DataFrame:
    """Put each model's metrics in one table, each compared with the most accurate.

    The comparison is paired: both models classified the same test images, so
    McNemar's exact test on the images only one of them gets right says
    whether the difference in accuracy is more than chance.

    Args:
        provenance: Per model, ``run_id`` (the MLflow run that trained it, ``""``
            when unknown) and ``this_run`` (whether this run trained it).
        registry: ``alpha``, the level at which a difference is significant.
        **evidence: For each model, its catalog entries ``<model>.metrics``
            (from ``evaluate_model``) and ``<model>.test_predicted`` (from
            ``predicted_classes``: ``label`` and ``predicted`` per test image).

    Returns:
        One row per model: model, train_loss, train_acc, test_loss, test_acc,
        test_acc_ci_low, test_acc_ci_high (95 % Wilson), diff_vs_best (its test
        accuracy minus the best's), p_vs_best (McNemar's exact p-value against
        the best; NaN on the best's own row), significant_vs_best (p < alpha),
        trained_in_run, trained_in_this_run.
    """
    models = [
        key.removesuffix(".metrics") for key in evidence if key.endswith(".metrics")
    ]
    metrics = {m: evidence[f"{m}.metrics"] for m in models}
    right = {
        m: (p["predicted"].to_numpy() == p[LABEL_COLUMN].to_numpy())
        for m, p in ((m, evidence[f"{m}.test_predicted"]) for m in models)
    }
    best = max(models, key=lambda m: metrics[m]["test_acc"])
    rows = []
    for name in models:
        test = None if name == best else mcnemar_exact(right[name], right[best])
        if test is not None:
            _log_comparison(name, best, metrics, test, registry.alpha)
        rows.append(
            {
                "model": name,
                **{c: metrics[name][c] for c in COMPARISON_COLUMNS[1:7]},
                "diff_vs_best": metrics[name]["test_acc"] - metrics[best]["test_acc"],
                "p_vs_best": np.nan if test is None else test["p_value"],
                "significant_vs_best": test is not None
                and test["p_value"] < registry.alpha,
                "trained_in_run": provenance.get(name, {}).get("run_id", ""),
                "trained_in_this_run": bool(provenance.get(name, {}).get("this_run")),
            }
        )
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)


def _log_comparison(
    name: str, best: str, metrics: dict, test: dict[str, Any], alpha: float
) -> None:
    def acc(m: str) -> str:
        low, high = metrics[m]["test_acc_ci_low"], metrics[m]["test_acc_ci_high"]
        return f"{m} {metrics[m]['test_acc']:.4f} (95 % CI {low:.4f}-{high:.4f})"

    verdict = "significant" if test["p_value"] < alpha else "not significant"
    logger.info(
        "%s vs %s: McNemar exact p = %.3g (%d images only %s gets right, %d only %s): "
        "%s at alpha = %g",
        acc(best),
        acc(name),
        test["p_value"],
        test["only_b"],
        best,
        test["only_a"],
        name,
        verdict,
        alpha,
    )


# The chart section of the per-epoch metrics in the MLflow UI.
CURVES = "learning_curves"


def tracking_metrics(metrics: dict[str, Any], history: pd.DataFrame) -> dict[str, Any]:
    """Lay out a model's metrics as MLflow metric histories (``step`` = epoch).

    Args:
        metrics: The model's metrics from ``evaluate_model``.
        history: The per-epoch training history (epoch, train_loss, train_acc,
            test_acc).

    Returns:
        ``{name: [{"step": epoch, "value": v}, ...]}``: one entry per epoch for
        ``learning_curves/train_loss``, ``…/train_acc`` and ``…/test_acc``
        (the MLflow UI draws a key's part before the last ``/`` as a chart
        section, and named sections come before the rest: the curves open a
        run's charts, not the per-class finals), then the final
        ``final.train_loss`` … ``final.test_acc``, ``final.test_acc.ci_low``,
        ``final.test_acc.ci_high`` and ``final.test_acc.<class name>`` at the
        last epoch.
    """
    tracked: dict[str, Any] = {
        f"{CURVES}/{column}": [
            {"step": int(epoch), "value": float(value)}
            for epoch, value in zip(history["epoch"], history[column], strict=True)
        ]
        for column in ["train_loss", "train_acc", "test_acc"]
    }
    last = int(history["epoch"].max())
    finals = {f"final.{name}": metrics[name] for name in HEADLINE}
    finals["final.test_acc.ci_low"] = metrics["test_acc_ci_low"]
    finals["final.test_acc.ci_high"] = metrics["test_acc_ci_high"]
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


def data_inputs(train: pd.DataFrame, test: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Name the tables this run trained and scored on, for the run's dataset inputs.

    Args:
        train: Training table: ``label`` and 784 ``uint8`` pixel columns.
        test: Test table, same layout.

    Returns:
        ``fashion_mnist_train`` and ``fashion_mnist_test``: the tables, as read.
    """
    return {"fashion_mnist_train": train, "fashion_mnist_test": test}


def model_metrics(
    metrics: dict[str, Any], digests: dict[str, str]
) -> list[dict[str, Any]]:
    """A model's final metrics, each with the dataset it was computed on.

    The keys carry no model prefix, so the logged models of every run and model
    share their columns (``test_acc``, ``test_acc.ci_low`` …) and rank by them.

    Args:
        metrics: The model's metrics from ``evaluate_model``.
        digests: Each table's content digest (SHA-256), by dataset name.

    Returns:
        One record per metric: ``key``, ``value``, ``dataset_name`` and
        ``dataset_digest``. Train loss and accuracy belong to
        ``fashion_mnist_train``; the test metrics (with the interval and per
        class) to ``fashion_mnist_test``.
    """
    by_split: dict[str, dict[str, float]] = {
        "fashion_mnist_train": {k: metrics[k] for k in ("train_loss", "train_acc")},
        "fashion_mnist_test": {
            "test_loss": metrics["test_loss"],
            "test_acc": metrics["test_acc"],
            "test_acc.ci_low": metrics["test_acc_ci_low"],
            "test_acc.ci_high": metrics["test_acc_ci_high"],
            **{
                f"test_acc.{name.replace('/', '_')}": value
                for name, value in metrics["test_per_class_acc"].items()
                if value is not None
            },
        },
    }
    return [
        {
            "key": key,
            "value": float(value),
            "dataset_name": dataset,
            "dataset_digest": digests[dataset],
        }
        for dataset, values in by_split.items()
        for key, value in values.items()
    ]
