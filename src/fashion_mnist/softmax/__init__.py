"""Softmax regression: the maths, both models' training loops and their scoring.

torch is imported with this package: every module that imports it at its top
is one that only a running node or the server loads.
"""

from .fit import TRAINERS, split_validation, train_concise, train_scratch
from .loop import HISTORY_COLUMNS, TrainingDivergedError, lr_factor
from .maths import (
    cross_entropy,
    linear_logits,
    log_softmax,
    nll,
    pixel_logits,
    resolve_device,
    softmax,
    to_features,
)
from .scoring import check_classes, confusion_matrix, evaluate, probability_table

__all__ = [
    "HISTORY_COLUMNS",
    "TRAINERS",
    "TrainingDivergedError",
    "check_classes",
    "confusion_matrix",
    "cross_entropy",
    "evaluate",
    "linear_logits",
    "log_softmax",
    "lr_factor",
    "nll",
    "pixel_logits",
    "probability_table",
    "resolve_device",
    "softmax",
    "split_validation",
    "to_features",
    "train_concise",
    "train_scratch",
]
