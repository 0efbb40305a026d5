"""Custom Kedro datasets: the only modules in this package that do I/O by hand."""

from .idx_dataset import IDXFile, VerifiedIDXDataset
from .torch_dataset import TorchStateDictDataset

__all__ = ["IDXFile", "TorchStateDictDataset", "VerifiedIDXDataset"]
