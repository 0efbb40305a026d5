"""The registry pipeline: register the run's models after its gate passed."""

from kedro.pipeline import Node, Pipeline

from fashion_mnist.params import MODELS

from .nodes import registration_candidates


def create_pipeline(**kwargs) -> Pipeline:
    """Build the registry pipeline.

    Returns:
        ``register_models``: from ``model_comparison``, ``gate_verdict``, the
        current champions (``registry_champions``, with their test predictions
        read from the tracking store) and each model's metrics and test
        predictions, to ``registered_models``, which registers each model as
        a new version and moves the ``champion`` alias where the decision says.
    """
    return Pipeline(
        [
            Node(
                registration_candidates,
                inputs={
                    "comparison": "model_comparison",
                    "verdict": "gate_verdict",
                    "champions": "registry_champions",
                    "registry": "params:registry",
                    "digests": "data_inputs",
                    **{
                        f"{model}.{entry}": f"{model}.{entry}"
                        for model in MODELS
                        for entry in ("metrics", "test_predicted")
                    },
                },
                outputs="registered_models",
                name="register_models",
                tags="registry",
            )
        ]
    )
