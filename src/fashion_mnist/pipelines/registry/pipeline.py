"""The registry pipeline: register the run's models after its gate passed."""

from kedro.pipeline import Node, Pipeline

from .nodes import registration_candidates


def create_pipeline(**kwargs) -> Pipeline:
    """Build the registry pipeline.

    Returns:
        ``register_models``: from ``model_comparison`` and ``gate_verdict`` to
        ``registered_models``, which registers each model as a new version and
        moves the ``champion`` alias to a better one.
    """
    return Pipeline(
        [
            Node(
                registration_candidates,
                inputs=["model_comparison", "gate_verdict"],
                outputs="registered_models",
                name="register_models",
                tags="registry",
            )
        ]
    )
