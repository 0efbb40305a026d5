"""The layout of the flattened Fashion-MNIST tables, shared by every pipeline."""

from __future__ import annotations

import numpy as np
import pandas as pd

IMAGE_SHAPE = (28, 28)
LABEL_COLUMN = "label"
PIXEL_COLUMNS = [f"pixel_{i:03d}" for i in range(IMAGE_SHAPE[0] * IMAGE_SHAPE[1])]


def table_to_arrays(table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Split a flattened table into its pixel matrix and its label vector.

    Args:
        table: One row per image: ``label`` and ``pixel_000`` … ``pixel_783``.

    Returns:
        ``X`` of shape (n, 784), ``uint8`` in 0–255, and ``y`` of shape (n,), ``int64``.

    Raises:
        ValueError: When a column is missing.
    """
    missing = [c for c in [LABEL_COLUMN, *PIXEL_COLUMNS] if c not in table.columns]
    if missing:
        raise ValueError(
            f"The table lacks {len(missing)} expected column(s), e.g. {missing[:3]}; "
            "it must come from the ingestion pipeline (label, pixel_000 … pixel_783)."
        )
    # Writable copies where pandas hands out read-only views (copy-on-write).
    X = np.require(table[PIXEL_COLUMNS].to_numpy(dtype=np.uint8), requirements="CW")
    y = np.require(table[LABEL_COLUMN].to_numpy(dtype=np.int64), requirements="W")
    return X, y
