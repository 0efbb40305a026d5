"""Decode IDX files and flatten them into one table per split."""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
import pandas as pd

from fashion_mnist.params import ClassNames
from fashion_mnist.schemas import IMAGE_SHAPE, LABEL_COLUMN, PIXEL_COLUMNS

# IDX type codes (third byte of the magic number) and the big-endian dtypes they
# name, as numpy dtype strings (``np.dtype`` of each when a file is decoded).
_IDX_DTYPES = {
    0x08: "u1",
    0x09: "i1",
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}


def decode_idx(file: Any) -> np.ndarray:
    """Parse an IDX file: magic number, dimensions, then the data in row-major order.

    Args:
        file: A ``fashion_mnist.datasets.IDXFile``: the decompressed bytes of
            one IDX file (``content``) and its name (``name``).

    Returns:
        An array of the dtype and shape the header declares (``uint8`` for
        Fashion-MNIST: (n, 28, 28) images or (n,) labels).

    Raises:
        ValueError: Naming the file, when the magic number is not an IDX one,
            or the file is shorter or longer than its header declares.
    """
    data = file.content
    if len(data) < 4:
        raise ValueError(
            f"{file.name}: truncated, {len(data)} bytes is shorter than the "
            "4-byte magic number. Delete the cached copy to fetch it again."
        )
    magic = int.from_bytes(data[:4], "big")
    type_code, ndim = data[2], data[3]
    if data[:2] != b"\x00\x00" or type_code not in _IDX_DTYPES or ndim == 0:
        raise ValueError(
            f"{file.name}: bad magic number 0x{magic:08X}; an IDX file starts "
            "with two zero bytes, a type code (0x08 for uint8) and the number "
            "of dimensions, e.g. 0x00000803 for images or 0x00000801 for labels."
        )
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise ValueError(
            f"{file.name}: truncated inside its header ({len(data)} bytes, "
            f"the header of a {ndim}-D file takes {header_size})."
        )
    shape = struct.unpack(f">{ndim}I", data[4:header_size])
    dtype = np.dtype(_IDX_DTYPES[type_code])
    expected = int(np.prod(shape)) * dtype.itemsize
    actual = len(data) - header_size
    if actual != expected:
        problem = "truncated" if actual < expected else "longer than declared"
        raise ValueError(
            f"{file.name}: {problem}: the header declares shape {shape} "
            f"({expected} bytes of data) but the file holds {actual}."
        )
    array = np.frombuffer(data, dtype=dtype, offset=header_size).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=False)


def flatten_split(
    images_file: Any, labels_file: Any, class_names: ClassNames
) -> pd.DataFrame:
    """Decode one split's images and labels into a table with one row per image.

    Args:
        images_file: ``IDXFile`` of ``uint8`` images, shape (n, 28, 28).
        labels_file: ``IDXFile`` of ``uint8`` labels, shape (n,), values in
            ``0 .. len(class_names) - 1``.
        class_names: The class names, in label order.

    Returns:
        A table of n rows: an ``int64`` ``label`` column, then 784 ``uint8``
        columns ``pixel_000`` … ``pixel_783`` (0–255, row-major, as
        torchvision's ``FashionMNIST`` returns the images).

    Raises:
        ValueError: Naming the file, when the shapes are not images and
            labels, the counts differ, or a label is out of range.
    """
    names = class_names.root
    images = decode_idx(images_file)
    labels = decode_idx(labels_file)
    if images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
        raise ValueError(
            f"{images_file.name}: expected images of shape (n, 28, 28), "
            f"the header declares {images.shape}."
        )
    if labels.ndim != 1:
        raise ValueError(
            f"{labels_file.name}: expected labels of shape (n,), "
            f"the header declares {labels.shape}."
        )
    if len(images) != len(labels):
        raise ValueError(
            f"{images_file.name} holds {len(images)} images but "
            f"{labels_file.name} holds {len(labels)} labels; both files must "
            "come from the same split."
        )
    if images.dtype != np.uint8:
        raise ValueError(
            f"{images_file.name}: expected uint8 pixels, the header declares {images.dtype}."
        )
    if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= len(names)):
        bad = int(labels.min()) if int(labels.min()) < 0 else int(labels.max())
        raise ValueError(
            f"{labels_file.name}: label {bad} is out of range for "
            f"the {len(names)} classes in parameter 'class_names'."
        )
    table = pd.DataFrame(images.reshape(len(images), -1), columns=PIXEL_COLUMNS)
    table.insert(0, LABEL_COLUMN, labels.astype(np.int64))
    return table
