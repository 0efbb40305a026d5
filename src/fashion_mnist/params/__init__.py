"""Every parameter group, one pydantic model each: the type hints of the nodes.

Kedro validates each ``params:<group>`` input of a node against its type hint
before any node runs and passes the model in; a bad value stops the run with
``Parameter validation failed: - Parameter '<group>': ...``, naming the field,
the value and, in the messages written here, the fix. pydantic only at import:
every ``kedro`` command imports this module.
"""

from .groups import (
    MAX_GRID_IMAGES,
    ClassNames,
    Conversion,
    EvaluationParams,
    Grid,
    InferenceParams,
    PredictionGrid,
    RegistryParams,
    ReportingParams,
    Thresholds,
)
from .training import MODELS, Hyperparameters, Overrides, TrainingParams
from .tuning import SEARCHABLE, Dimension, TuningParams

__all__ = [
    "MAX_GRID_IMAGES",
    "MODELS",
    "SEARCHABLE",
    "ClassNames",
    "Conversion",
    "Dimension",
    "EvaluationParams",
    "Grid",
    "Hyperparameters",
    "InferenceParams",
    "Overrides",
    "PredictionGrid",
    "RegistryParams",
    "ReportingParams",
    "Thresholds",
    "TrainingParams",
    "TuningParams",
]
