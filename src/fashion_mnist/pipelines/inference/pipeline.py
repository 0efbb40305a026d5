"""The inference pipeline: convert the user's images, classify them, draw them."""

from kedro.pipeline import Node, Pipeline

from .nodes import (
    inference_inputs,
    plot_predictions,
    predict_images,
    to_fashion_mnist,
)


def create_pipeline(**kwargs) -> Pipeline:
    """Build the inference pipeline, run with ``kedro run --pipelines inference``.

    Returns:
        ``convert_images`` (``inference_images`` to ``inference_pixels``),
        ``predict_images`` (with ``inference_model``, to
        ``inference_predictions``), ``plot_predictions`` (to
        ``inference_grid``) and ``log_inference_inputs`` (the converted images
        as the run's MLflow dataset input), all tagged ``inference``.
    """
    return Pipeline(
        [
            Node(
                to_fashion_mnist,
                inputs=["inference_images", "params:inference"],
                outputs="inference_pixels",
                name="convert_images",
            ),
            Node(
                inference_inputs,
                inputs="inference_pixels",
                outputs="inference_dataset_inputs",
                name="log_inference_inputs",
            ),
            Node(
                predict_images,
                inputs=[
                    "inference_model",
                    "inference_pixels",
                    "params:class_names",
                    "params:inference",
                ],
                outputs="inference_predictions",
                name="predict_images",
            ),
            Node(
                plot_predictions,
                inputs=[
                    "inference_pixels",
                    "inference_predictions",
                    "params:class_names",
                    "params:inference",
                ],
                outputs="inference_grid",
                name="plot_predictions",
            ),
        ],
        tags="inference",
    )
