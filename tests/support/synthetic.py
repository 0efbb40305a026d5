"""Small synthetic Fashion-MNIST look-alikes that the tests make themselves."""

from __future__ import annotations

import gzip
import hashlib
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml

from fashion_mnist.params import ClassNames
from fashion_mnist.schemas import LABEL_COLUMN, PIXEL_COLUMNS

# The project's own class names, read and validated as every run reads them.
CLASS_NAMES: list[str] = ClassNames.model_validate(
    yaml.safe_load(
        (Path(__file__).resolve().parents[2] / "conf/base/parameters.yml").read_text()
    )["class_names"]
).root
# The project's own gate bounds (conf/base/parameters_evaluation.yml).
THRESHOLDS: dict[str, float] = yaml.safe_load(
    (
        Path(__file__).resolve().parents[2] / "conf/base/parameters_evaluation.yml"
    ).read_text()
)["evaluation"]["thresholds"]


def make_images(n_per_class: int = 30, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Linearly separable 28x28 uint8 images: class k lights up rows 2k+4 and 2k+5.

    Returns images (n, 28, 28) and labels (n,), both uint8, classes interleaved.
    """
    rng = np.random.default_rng(seed)
    labels = np.tile(np.arange(10, dtype=np.uint8), n_per_class)
    images = rng.integers(0, 60, size=(len(labels), 28, 28), dtype=np.uint8)
    for i, k in enumerate(labels):
        images[i, 2 * k + 4 : 2 * k + 6, 4:24] = rng.integers(180, 256, size=(2, 20))
    return images, labels


def make_table(n_per_class: int = 30, seed: int = 0) -> pd.DataFrame:
    """The flattened table the ingestion pipeline would make from `make_images`."""
    images, labels = make_images(n_per_class, seed)
    table = pd.DataFrame(images.reshape(len(images), -1), columns=PIXEL_COLUMNS)
    table.insert(0, LABEL_COLUMN, labels.astype(np.int64))
    return table


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array in the IDX format."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def write_gz(path: Path, content: bytes) -> str:
    """Gzip `content` to `path` and return the MD5 of the uncompressed bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(content))
    return hashlib.md5(content).hexdigest()


def training_params(**overrides) -> dict:
    """`training` parameters that learn the synthetic images in a few CPU epochs."""
    params = {
        "seed": 0,
        "device": "cpu",
        "batch_size": 50,
        "lr": 0.5,
        "num_epochs": 3,
        "init_std": 0.01,
        "weight_decay": 0.0,
        "standardize": False,
        "scratch": {},
        "concise": {},
    }
    params.update(overrides)
    return params


def random_model(seed: int) -> dict[str, torch.Tensor]:
    """Random softmax-regression weights (784 pixels, 10 classes), the same for a seed."""
    generator = torch.Generator().manual_seed(seed)
    return {
        "weight": torch.randn(10, 784, generator=generator) * 0.05,
        "bias": torch.randn(10, generator=generator),
    }
