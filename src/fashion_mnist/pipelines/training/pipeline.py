"""The training pipeline: one template, applied to each model as a Kedro namespace."""

from kedro.pipeline import Node, Pipeline

from fashion_mnist.params import MODELS

from .nodes import NODES, training_inputs


def training_template(model: str) -> Pipeline:
    """One model's training, before it is given the model's namespace.

    The template is the same for every model; only the node function differs
    (``train_scratch`` or ``train_concise``, from :data:`NODES`).
    """
    return Pipeline(
        [
            Node(
                NODES[model],
                inputs=["fashion_mnist_train", "fashion_mnist_test", "params:training"],
                outputs=["model", "history"],
                name="train",
            )
        ]
    )


def create_pipeline(**kwargs) -> Pipeline:
    """Build the training pipeline.

    Returns:
        ``<model>.train`` for each model (namespaces ``scratch`` and
        ``concise``), each writing ``<model>.model`` and ``<model>.history``;
        ``log_training_inputs``: the two tables as the run's dataset inputs.
    """
    inputs = Node(
        training_inputs,
        inputs=["fashion_mnist_train", "fashion_mnist_test"],
        outputs="training_dataset_inputs",
        name="log_training_inputs",
        tags="training",
    )
    return sum(
        (
            Pipeline(
                training_template(model),
                namespace=model,
                inputs={"fashion_mnist_train", "fashion_mnist_test"},
                parameters={"params:training"},
                tags=["training", model],
            )
            for model in MODELS
        ),
        Pipeline([inputs]),
    )
