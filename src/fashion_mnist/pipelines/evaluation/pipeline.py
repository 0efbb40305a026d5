"""The evaluation pipeline, applied to each model as a Kedro namespace."""

from kedro.pipeline import Node, Pipeline

from fashion_mnist.params import MODELS

from .nodes import compare_models, evaluate_model, predict_split, tracking_metrics


def evaluation_template() -> Pipeline:
    """One model's evaluation, before it is given a namespace."""
    return Pipeline(
        [
            Node(
                evaluate_model,
                inputs=[
                    "model",
                    "fashion_mnist_train",
                    "fashion_mnist_test",
                    "params:class_names",
                ],
                outputs="metrics",
                name="evaluate_model",
            ),
            Node(
                tracking_metrics,
                inputs=["metrics", "history"],
                outputs="mlflow_metrics",
                name="track_metrics",
            ),
            Node(
                predict_split,
                inputs=["model", "fashion_mnist_test"],
                outputs="test_predictions",
                name="predict_test",
            ),
        ]
    )


def create_pipeline(**kwargs) -> Pipeline:
    """Build the evaluation pipeline.

    Returns:
        ``<model>.evaluate_model``, ``<model>.track_metrics`` and
        ``<model>.predict_test`` for each model
        (namespaces ``scratch`` and ``concise``), then ``compare_models``.
    """
    per_model = [
        Pipeline(
            evaluation_template(),
            namespace=model,
            inputs={"fashion_mnist_train", "fashion_mnist_test"},
            parameters={"params:class_names"},
            tags=["evaluation", model],
        )
        for model in MODELS
    ]
    comparison = Node(
        compare_models,
        inputs={
            "provenance": "model_provenance",
            **{model: f"{model}.metrics" for model in MODELS},
        },
        outputs="model_comparison",
        name="compare_models",
        tags="evaluation",
    )
    return sum(per_model, Pipeline([])) + Pipeline([comparison])
