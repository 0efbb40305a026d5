"""Training nodes: each model of ``params.MODELS`` trained from the ``training`` group.

The loops live in :mod:`fashion_mnist.softmax`, imported when a node runs:
every ``kedro`` command imports this module, and torch takes a second.
"""

from __future__ import annotations

import pandas as pd

from fashion_mnist.params import TrainingParams
from fashion_mnist.schemas import SoftmaxWeights


def train_scratch(
    train: pd.DataFrame, test: pd.DataFrame, training: TrainingParams
) -> tuple[SoftmaxWeights, pd.DataFrame]:
    """Train the hand-written softmax regression: own softmax, loss, gradient, SGD.

    Args:
        train: Training table: ``label`` (``int64`` 0..9) and 784 ``uint8``
            pixel columns.
        test: Test table, same layout; only scored, once per epoch.
        training: The ``training`` group; ``training.scratch`` overrides.

    Returns:
        The model (``weight`` (10, 784) and ``bias`` (10,), ``float32`` on the
        CPU) and the history table (epoch, train_loss, train_acc, test_acc).

    Raises:
        TrainingDivergedError: When the loss or the weights stop being finite,
            naming the epoch and the learning rate to lower.
    """
    from fashion_mnist.softmax import train_scratch as train_model

    return train_model(train, test, training.for_model("scratch"))


def train_concise(
    train: pd.DataFrame, test: pd.DataFrame, training: TrainingParams
) -> tuple[SoftmaxWeights, pd.DataFrame]:
    """Train softmax regression built from ``torch.nn`` and ``torch.optim``.

    Args:
        train: Training table: ``label`` (``int64`` 0..9) and 784 ``uint8``
            pixel columns.
        test: Test table, same layout; only scored, once per epoch.
        training: The ``training`` group; ``training.concise`` overrides.

    Returns:
        The model (``weight`` (10, 784) and ``bias`` (10,), ``float32`` on the
        CPU) and the history table (epoch, train_loss, train_acc, test_acc).

    Raises:
        TrainingDivergedError: When the loss or the weights stop being finite,
            naming the epoch and the learning rate to lower.
    """
    from fashion_mnist.softmax import train_concise as train_model

    return train_model(train, test, training.for_model("concise"))


def training_inputs(train: pd.DataFrame, test: pd.DataFrame) -> dict:
    """Name the tables the models trained on and were scored on each epoch.

    Returns:
        ``fashion_mnist_train`` and ``fashion_mnist_test``, as read: the run's
        MLflow dataset inputs (an evaluation in the same run logs the same
        two, and MLflow keeps each input once).
    """
    return {"fashion_mnist_train": train, "fashion_mnist_test": test}


# The node function of each model in MODELS: the training template's only difference.
NODES = {"scratch": train_scratch, "concise": train_concise}
