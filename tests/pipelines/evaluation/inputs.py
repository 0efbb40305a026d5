"""What the evaluation node tests share: class names, a model whose predictions are
known (pixel k lit predicts class k), the test split it is scored on, a random model.
"""

import numpy as np
import pandas as pd
import torch

from fashion_mnist.params import ClassNames
from fashion_mnist.schemas import LABEL_COLUMN, PIXEL_COLUMNS
from tests.support.synthetic import CLASS_NAMES

NAMES = ClassNames(CLASS_NAMES)

LOGIT = 10.0


def _pixel_model() -> dict[str, torch.Tensor]:
    """A model that predicts class k exactly when pixel k is lit (255)."""
    weight = torch.zeros(10, 784)
    weight[torch.arange(10), torch.arange(10)] = LOGIT
    return {"weight": weight, "bias": torch.zeros(10)}


def _pixel_table(labels: list[int], lit: list[int]) -> pd.DataFrame:
    """One image per label, black but for pixel ``lit[i]``: the model predicts it."""
    pixels = np.zeros((len(labels), 784), dtype=np.uint8)
    pixels[np.arange(len(labels)), lit] = 255
    table = pd.DataFrame(pixels, columns=PIXEL_COLUMNS)
    table.insert(0, LABEL_COLUMN, np.asarray(labels, dtype=np.int64))
    return table


# Test split: 6 images of classes 0, 0, 1, 2, 2, 2 predicted 0, 1, 1, 2, 0, 2.
TEST_LABELS = [0, 0, 1, 2, 2, 2]
TEST_PREDICTED = [0, 1, 1, 2, 0, 2]
