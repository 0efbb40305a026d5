"""A PNG figure that is saved like ``matplotlib.MatplotlibDataset`` and can be loaded back."""

from __future__ import annotations

import numpy as np
from kedro.io.core import get_filepath_str
from kedro_datasets.matplotlib import MatplotlibDataset
from matplotlib.image import imread


class FigureDataset(MatplotlibDataset):
    """``matplotlib.MatplotlibDataset`` for one figure, whose ``load`` returns the PNG.

    Loading gives the saved image as an RGBA ``float32`` array of shape
    (height, width, 4), so a node that must run after a report is written (the
    threshold gate) can take the report as an input, and a notebook can show it.
    """

    def load(self) -> np.ndarray:
        load_path = get_filepath_str(self._get_load_path(), self._protocol)
        with self._fs.open(load_path, mode="rb") as stream:
            return imread(stream, format="png")
