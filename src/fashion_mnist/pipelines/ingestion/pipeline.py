"""The ingestion pipeline: four verified IDX files in, two flat tables out."""

from kedro.pipeline import Node, Pipeline

from .nodes import flatten_split


def create_pipeline(**kwargs) -> Pipeline:
    """Build the ingestion pipeline.

    Returns:
        Nodes turning ``{train,test}_{images,labels}_idx`` into
        ``fashion_mnist_train`` and ``fashion_mnist_test``.
    """
    return Pipeline(
        [
            Node(
                flatten_split,
                inputs=["train_images_idx", "train_labels_idx", "params:class_names"],
                outputs="fashion_mnist_train",
                name="flatten_train",
            ),
            Node(
                flatten_split,
                inputs=["test_images_idx", "test_labels_idx", "params:class_names"],
                outputs="fashion_mnist_test",
                name="flatten_test",
            ),
        ],
        tags="ingestion",
    )
