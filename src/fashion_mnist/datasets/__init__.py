"""Custom Kedro datasets: the only modules in this package that do I/O by hand."""

from .figure_dataset import FigureDataset
from .idx_dataset import IDXFile, VerifiedIDXDataset
from .mlflow_model_dataset import MlflowSoftmaxModelDataset
from .torch_dataset import TorchStateDictDataset

__all__ = [
    "FigureDataset",
    "IDXFile",
    "MlflowSoftmaxModelDataset",
    "TorchStateDictDataset",
    "VerifiedIDXDataset",
]
