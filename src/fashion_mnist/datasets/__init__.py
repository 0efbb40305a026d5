"""Custom Kedro datasets: the only modules in this package that do I/O by hand."""

from .figure_dataset import FigureDataset
from .idx_dataset import IDXFile, VerifiedIDXDataset
from .torch_dataset import TorchStateDictDataset

__all__ = ["FigureDataset", "IDXFile", "TorchStateDictDataset", "VerifiedIDXDataset"]
