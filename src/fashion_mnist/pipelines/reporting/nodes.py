"""Reporting nodes: prediction grid, learning curves, confusion matrix, threshold gate.

matplotlib is imported by the nodes when they run, never at import time: every
``kedro`` command (``kedro registry list`` too) imports this module. Figures
are typed ``Any``: each is a ``matplotlib.figure.Figure``.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from fashion_mnist.params import ClassNames, EvaluationParams, ReportingParams
from fashion_mnist.schemas import IMAGE_SHAPE, table_to_arrays

logger = logging.getLogger(__name__)

WRONG_COLOR = "tab:red"
RIGHT_COLOR = "black"


def plot_prediction_grid(
    test: pd.DataFrame,
    predictions: pd.DataFrame,
    class_names: ClassNames,
    reporting: ReportingParams,
) -> Any:
    """Show test images titled with their true and predicted class, as ``predict_ch3``.

    Args:
        test: Test table: ``label`` and 784 ``uint8`` pixel columns.
        predictions: ``label`` and ``predicted`` per test image, same order.
        class_names: The class names, in label order.
        reporting: ``prediction_grid``: ``rows`` and ``cols`` (images shown:
            the first rows×cols, at most 100), ``only_misclassified`` (show
            only wrong predictions), ``dpi`` (50–300).

    Returns:
        A matplotlib Figure with rows×cols axes; each title is
        ``"<true>\\n<predicted>"``, red where the prediction is wrong.
    """
    from matplotlib.figure import Figure

    spec, names = reporting.prediction_grid, class_names.root
    rows, cols = spec.rows, spec.cols
    X, y = table_to_arrays(test, "test")
    predicted = predictions["predicted"].to_numpy()
    candidates = (
        np.flatnonzero(predicted != y) if spec.only_misclassified else np.arange(len(y))
    )
    shown = candidates[: rows * cols]
    fig = Figure(figsize=(1.6 * cols, 2.0 * rows), dpi=spec.dpi, layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    for ax, i in zip(axes, shown, strict=False):
        ax.imshow(X[i].reshape(IMAGE_SHAPE), cmap="gray_r", vmin=0, vmax=255)
        wrong = predicted[i] != y[i]
        ax.set_title(
            f"{names[y[i]]}\n{names[predicted[i]]}",
            color=WRONG_COLOR if wrong else RIGHT_COLOR,
            fontsize=9,
        )
    for ax in axes:
        ax.set_axis_off()
    return fig


def plot_learning_curves(history: pd.DataFrame, title: str = "") -> Any:
    """Plot train loss, train accuracy and test accuracy per epoch, as ``train_ch3``.

    Args:
        history: One row per epoch: epoch, train_loss, train_acc, test_acc.
        title: Figure title, e.g. the model's name.

    Returns:
        A figure with two axes: loss, then accuracies, against the epoch.
    """
    return _curves({title or "model": history}, title)


def plot_models_learning_curves(**histories: pd.DataFrame) -> Any:
    """Overlay the learning curves of several models, keyed by model name.

    Args:
        **histories: Each model's per-epoch history.

    Returns:
        A figure with two axes (loss, accuracies), one colour per model.
    """
    return _curves(histories, " vs ".join(histories))


def _curves(histories: dict[str, pd.DataFrame], title: str) -> Any:
    from matplotlib.figure import Figure

    # Fixed margins rather than a layout engine, whose extra pass over the text
    # doubles the drawing time: the content is the same on every run.
    fig = Figure(figsize=(10, 4), dpi=100)
    fig.subplots_adjust(left=0.07, right=0.985, bottom=0.13, top=0.83, wspace=0.22)
    loss_ax, acc_ax = fig.subplots(1, 2)
    for i, (name, history) in enumerate(histories.items()):
        label = "" if len(histories) == 1 else f"{name} "
        # Wide translucent lines under narrow marked ones: identical curves stay visible.
        style = {"color": f"C{i}", "linewidth": max(4.0 - 2.0 * i, 1.2), "alpha": 0.8}
        if i:
            style.update(marker="o", markersize=3)
        epochs = history["epoch"]
        loss_ax.plot(epochs, history["train_loss"], label=f"{label}train loss", **style)
        acc_ax.plot(epochs, history["train_acc"], label=f"{label}train acc", **style)
        acc_ax.plot(
            epochs, history["test_acc"], "--", label=f"{label}test acc", **style
        )
    loss_ax.set(xlabel="epoch", ylabel="mean cross-entropy", title="train loss")
    acc_ax.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    return fig


def plot_confusion_matrix(metrics: dict[str, Any], title: str = "") -> Any:
    """Draw the test confusion matrix as a heatmap with counts in the cells.

    Args:
        metrics: ``test_confusion_matrix`` (k×k counts, row = true class) and
            ``class_names`` from the evaluation pipeline.
        title: Figure title, e.g. the model's name.

    Returns:
        A figure with the heatmap's axes and its colour bar.
    """
    from matplotlib.figure import Figure

    counts = np.asarray(metrics["test_confusion_matrix"])
    names = metrics["class_names"]
    # Fixed margins (room for the rotated class names) rather than a layout
    # engine, whose extra pass over the 100 cell labels doubles the drawing time.
    fig = Figure(figsize=(8, 7), dpi=100)
    fig.subplots_adjust(left=0.16, right=0.97, bottom=0.17, top=0.94)
    ax = fig.subplots()
    image = ax.imshow(counts, cmap="Blues")
    fig.colorbar(image, ax=ax, shrink=0.8, label="images")
    ticks = np.arange(len(names))
    ax.set_xticks(ticks, names, rotation=45, ha="right")
    ax.set_yticks(ticks, names)
    ax.set(
        xlabel="predicted",
        ylabel="true",
        title=f"{title} confusion matrix (test)".strip(),
    )
    threshold = counts.max() / 2
    for (row, col), count in np.ndenumerate(counts):
        ax.text(
            col,
            row,
            str(count),
            ha="center",
            va="center",
            fontsize=8,
            color="white" if count > threshold else "black",
        )
    return fig


def check_thresholds(
    comparison: pd.DataFrame, evaluation: EvaluationParams
) -> dict[str, Any]:
    """Check every model's metrics against the bounds; the verdict, never an error.

    ``fashion_mnist.tracking.gate.GateHook`` fails the run once the pipeline
    has run (every report saved) when the verdict failed and ``on_failure``
    is ``raise``.

    Args:
        comparison: One row per model: model, train_loss, train_acc, test_loss,
            test_acc.
        evaluation: ``thresholds`` (``max_train_loss``, ``min_train_acc``,
            ``max_train_acc``, ``min_test_acc``, ``max_test_acc``) and
            ``on_failure`` (``raise`` or ``warn``).

    Returns:
        ``passed`` (bool), ``failures`` (one line per failed check: model,
        metric, value, bound) and ``on_failure``.
    """
    bounds = evaluation.thresholds
    checks = [
        ("train_loss", "<", bounds.max_train_loss),
        ("train_acc", ">", bounds.min_train_acc),
        ("train_acc", "<=", bounds.max_train_acc),
        ("test_acc", ">", bounds.min_test_acc),
        ("test_acc", "<=", bounds.max_test_acc),
    ]
    passes = {"<": float.__lt__, ">": float.__gt__, "<=": float.__le__}
    # The comparison table itself ends the run's log (fashion_mnist.tracking.summary).
    failures = [
        f"{row.model}: {metric} = {getattr(row, metric):.4f}, bound {op} {bound}"
        for row in comparison.itertuples()
        for metric, op, bound in checks
        if not passes[op](float(getattr(row, metric)), float(bound))
    ]
    verdict = {
        "passed": not failures,
        "failures": failures,
        "on_failure": evaluation.on_failure,
    }
    if not failures:
        logger.info(
            "Threshold gate passed: %d checks on %d models",
            len(checks) * len(comparison),
            len(comparison),
        )
        return verdict
    logger.warning(
        "Threshold gate failed (%d checks):\n%s%s",
        len(failures),
        "\n".join(f"  - {failure}" for failure in failures),
        "\n(on_failure: warn, so the run goes on)"
        if evaluation.on_failure == "warn"
        else "",
    )
    return verdict
