"""The reporting pipeline: each model's figures in its namespace, then the gate."""

from functools import partial, update_wrapper

from kedro.pipeline import Node, Pipeline

from fashion_mnist.params import MODELS

from .nodes import (
    check_thresholds,
    plot_confusion_matrix,
    plot_learning_curves,
    plot_models_learning_curves,
    plot_prediction_grid,
)


def _titled(func, title: str):
    """``func`` with its ``title`` argument fixed, keeping its name and docstring."""
    return update_wrapper(partial(func, title=title), func)


def model_reports(model: str) -> Pipeline:
    """One model's figures, in the model's namespace."""
    template = Pipeline(
        [
            Node(
                plot_prediction_grid,
                inputs=[
                    "fashion_mnist_test",
                    "test_predictions",
                    "params:class_names",
                    "params:reporting",
                ],
                outputs="prediction_grid",
                name="plot_prediction_grid",
            ),
            Node(
                _titled(plot_learning_curves, model),
                inputs="history",
                outputs="learning_curves",
                name="plot_learning_curves",
            ),
            Node(
                _titled(plot_confusion_matrix, model),
                inputs="metrics",
                outputs="confusion_matrix",
                name="plot_confusion_matrix",
            ),
        ]
    )
    return Pipeline(
        template,
        namespace=model,
        inputs={"fashion_mnist_test"},
        parameters={"params:class_names", "params:reporting"},
        tags=["reporting", model],
    )


def create_pipeline(**kwargs) -> Pipeline:
    """Build the reporting pipeline.

    Returns:
        For each model (namespaces ``scratch`` and ``concise``) a prediction
        grid, learning curves and a confusion matrix; one figure overlaying
        both models' learning curves; and ``check_thresholds``, whose verdict
        ``gate_verdict`` fails the run after the pipeline when it must
        (``fashion_mnist.tracking.gate.GateHook``).
    """
    overlay = Node(
        plot_models_learning_curves,
        inputs={model: f"{model}.history" for model in MODELS},
        outputs="models_learning_curves",
        name="plot_models_learning_curves",
        tags="reporting",
    )
    gate = Node(
        check_thresholds,
        inputs=["model_comparison", "params:evaluation"],
        outputs="gate_verdict",
        name="check_thresholds",
        tags="reporting",
    )
    return sum((model_reports(m) for m in MODELS), Pipeline([])) + Pipeline(
        [overlay, gate]
    )
