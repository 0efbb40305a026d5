"""The training pipeline: one node per model, the same tables and parameters."""

from kedro.pipeline import Node, Pipeline

from .nodes import train_concise, train_scratch


def create_pipeline(**kwargs) -> Pipeline:
    """Build the training pipeline.

    Returns:
        ``train_scratch`` and ``train_concise``, each writing ``<model>_model``
        and ``<model>_history``.
    """
    tables = ["fashion_mnist_train", "fashion_mnist_test", "params:training"]
    return Pipeline(
        [
            Node(
                train_scratch,
                inputs=tables,
                outputs=["scratch_model", "scratch_history"],
                name="train_scratch",
                tags=["training", "scratch"],
            ),
            Node(
                train_concise,
                inputs=tables,
                outputs=["concise_model", "concise_history"],
                name="train_concise",
                tags=["training", "concise"],
            ),
        ]
    )
