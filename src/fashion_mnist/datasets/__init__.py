"""Custom Kedro datasets: the only modules in this package that do I/O by hand.

Imported lazily, so that ``kedro`` commands that run no node (``kedro
registry list``, ``kedro catalog``) do not pay for importing torch or MLflow.
"""

from importlib import import_module
from typing import Any

_WHERE = {
    "IDXFile": "idx_dataset",
    "ImageFolderDataset": "image_folder_dataset",
    "VerifiedIDXDataset": "idx_dataset",
    "MlflowSoftmaxModelDataset": "mlflow_model_dataset",
    "SoftmaxModelDataset": "model_dataset",
    "ModelRegistryDataset": "registry_dataset",
    "RegisteredModelDataset": "registered_model_dataset",
    "ChampionsDataset": "champion_dataset",
    "ModelMetricsDataset": "evidence_datasets",
    "RunInputsDataset": "evidence_datasets",
    "RunFileDataset": "run_file_dataset",
    "TableDataset": "run_file_dataset",
    "RunMetricsDataset": "metrics_dataset",
    "ModelProvenanceDataset": "provenance_dataset",
    "OptunaStorageDataset": "tuning_datasets",
    "TrialRunsDataset": "tuning_datasets",
}

__all__ = [
    "ChampionsDataset",
    "IDXFile",
    "ImageFolderDataset",
    "MlflowSoftmaxModelDataset",
    "ModelMetricsDataset",
    "ModelProvenanceDataset",
    "ModelRegistryDataset",
    "OptunaStorageDataset",
    "RegisteredModelDataset",
    "RunFileDataset",
    "RunInputsDataset",
    "RunMetricsDataset",
    "SoftmaxModelDataset",
    "TableDataset",
    "TrialRunsDataset",
    "VerifiedIDXDataset",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f".{_WHERE[name]}", __name__), name)
