"""The evaluation pipeline, applied to each model as a Kedro namespace."""

from kedro.pipeline import Node, Pipeline

from fashion_mnist.params import MODELS

from .nodes import (
    compare_models,
    data_inputs,
    evaluate_model,
    model_metrics,
    predict_split,
    predicted_classes,
    tracking_metrics,
)


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
                model_metrics,
                inputs=["metrics", "data_inputs"],
                outputs="model_metrics",
                name="link_metrics_to_model",
            ),
            Node(
                predict_split,
                inputs=["model", "fashion_mnist_test"],
                outputs="test_predictions",
                name="predict_test",
            ),
            Node(
                predicted_classes,
                inputs="test_predictions",
                outputs="test_predicted",
                name="keep_predicted_classes",
            ),
        ]
    )


def create_pipeline(**kwargs) -> Pipeline:
    """Build the evaluation pipeline.

    Returns:
        ``log_data_inputs`` (the tables as the run's MLflow dataset inputs);
        ``<model>.evaluate_model``, ``<model>.track_metrics``,
        ``<model>.link_metrics_to_model``, ``<model>.predict_test`` and
        ``<model>.keep_predicted_classes`` for each
        model (namespaces ``scratch`` and ``concise``); then
        ``compare_models``, with each model's 95 % interval and McNemar's test
        against the most accurate.
    """
    per_model = [
        Pipeline(
            evaluation_template(),
            namespace=model,
            inputs={"fashion_mnist_train", "fashion_mnist_test", "data_inputs"},
            parameters={"params:class_names"},
            tags=["evaluation", model],
        )
        for model in MODELS
    ]
    inputs = Node(
        data_inputs,
        inputs=["fashion_mnist_train", "fashion_mnist_test"],
        outputs="data_inputs",
        name="log_data_inputs",
        tags="evaluation",
    )
    comparison = Node(
        compare_models,
        inputs={
            "provenance": "model_provenance",
            "registry": "params:registry",
            **{
                f"{model}.{entry}": f"{model}.{entry}"
                for model in MODELS
                for entry in ("metrics", "test_predicted")
            },
        },
        outputs="model_comparison",
        name="compare_models",
        tags="evaluation",
    )
    return Pipeline([inputs]) + sum(per_model, Pipeline([])) + Pipeline([comparison])
