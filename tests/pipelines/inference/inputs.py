"""What the inference node tests share: parameters, a garment picture, a random model."""

import numpy as np

from fashion_mnist.params import ClassNames, InferenceParams
from tests.support.synthetic import CLASS_NAMES

NAMES = ClassNames(CLASS_NAMES)
LOGGER = "fashion_mnist.pipelines.inference.nodes"


def _params(grid=None, **conversion) -> InferenceParams:
    return InferenceParams.model_validate(_raw(grid, **conversion))


def _raw(grid=None, **conversion) -> dict:
    return {
        "conversion": {
            "invert": "auto",
            "background_threshold": 13,
            "sharpen": True,
            **conversion,
        },
        "grid": {"cols": 4, "max_images": 8, "dpi": 50, **(grid or {})},
    }


def _garment(height=300, width=200, box=(30, 40, 240, 120)):
    """A bright T-shirt-like shape on black, ``uint8``: a body and two sleeves.

    ``box`` is the body's top row, left column, height and width.
    """
    top, left, rows, cols = box
    image = np.zeros((height, width), dtype=np.uint8)
    image[top : top + rows, left : left + cols] = 200
    sleeve = rows // 4
    image[top : top + sleeve, max(left - cols // 4, 0) : left] = 230
    image[top : top + sleeve, left + cols : left + cols + cols // 4] = 230
    return image
