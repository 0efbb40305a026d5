"""Inference nodes: the user's images in Fashion-MNIST's format, predicted, drawn.

Pillow, torch and matplotlib are imported by the nodes when they run, never at
import time: every ``kedro`` command (``kedro registry list`` too) imports this
module. The grid is typed ``Any``: it is a ``matplotlib.figure.Figure``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from fashion_mnist.params import ClassNames, Conversion, InferenceParams
from fashion_mnist.schemas import IMAGE_SHAPE, PIXEL_COLUMNS, SoftmaxWeights

FILE_COLUMN = "file"
SIDE = IMAGE_SHAPE[0]
# ITU-R BT.601 luma, the weights of Pillow's convert("L").
LUMA = (0.299, 0.587, 0.114)
TITLE_CHARS = 18


def to_fashion_mnist(
    images: dict[str, np.ndarray], inference: InferenceParams
) -> pd.DataFrame:
    """Convert each image to Fashion-MNIST's format and flatten it to one table row.

    The recipe follows the Fashion-MNIST README's (trim, resize the longest
    edge to 28, sharpen, extend to 28×28, negate, greyscale), in this order:

    1. **Greyscale**: transparent pixels are composited on white, since
       Fashion-MNIST's source photos show products on a near-white
       (#fdfdfd) background; then ITU-R 601 luma
       ``0.299 R + 0.587 G + 0.114 B``, rounded to ``uint8`` (a grey image
       keeps its values exactly).
    2. **Negate** (``invert``): ``auto`` inverts when the median of the
       image's outermost pixels is brighter than the mean of its central
       half, so a product photo on white becomes a light garment on black.
       The median ignores an object that touches the edge: no image of the
       Fashion-MNIST training or test sets is inverted by this rule.
       ``always`` and ``never`` force the choice.
    3. **Framing**, for an image that is not already 28×28:

       a. Background to black: the median of the outermost pixels is
          subtracted (clipped at 0), for photos on a grey rather than a
          white backdrop, which Fashion-MNIST never had.
       b. Trim to the bounding box of the pixels brighter than
          ``background_threshold`` (Fashion-MNIST trims edges within 5 % of
          the corner colour: 13 of 255). An image with no such pixel is
          kept whole.
       c. Resize, keeping the aspect ratio, so that the longer side is 28
          pixels (Lanczos, antialiased: Fashion-MNIST skipped rows and
          columns instead).
       d. Sharpen (``sharpen``): an unsharp mask of radius 1, as
          Fashion-MNIST's Gaussian sharpening of radius and σ 1.0.
       e. Centre on a black 28×28 canvas; an odd margin puts the extra
          pixel after the object (right, below), Fashion-MNIST's more
          common rounding.

       A 28×28 image is taken as framed already and keeps its pixels:
       Fashion-MNIST centres its images with either rounding, so trimming
       and centring again would move about half of them by a pixel. A
       Fashion-MNIST image saved as a greyscale PNG therefore converts back
       to exactly its own pixels.

    Args:
        images: Images in the order to keep, keyed by file name; each of
            shape (h, w) or (h, w, c), ``uint8`` in 0–255, with c = 1 (grey),
            2 (grey, alpha), 3 (RGB) or 4 (RGBA), any size.
        inference: The ``inference`` group; ``conversion`` holds ``invert``
            (``auto`` | ``always`` | ``never``), ``background_threshold``
            (0–254 grey levels) and ``sharpen`` (bool).

    Returns:
        One row per image, in the order of ``images``: ``file`` (str), then
        ``pixel_000`` … ``pixel_783`` (``uint8``, row-major, light object
        on a black background, as in the Fashion-MNIST tables).

    Raises:
        ValueError: When ``images`` is empty, or an image has another dtype
            or shape (naming the file).
    """
    spec = inference.conversion
    if not images:
        raise ValueError("no images to convert: the image folder gave none")
    rows = np.stack(
        [_convert(name, image, spec).ravel() for name, image in images.items()]
    )
    table = pd.DataFrame(rows, columns=PIXEL_COLUMNS)
    table.insert(0, FILE_COLUMN, list(images))
    return table


def _convert(name: str, image: np.ndarray, spec: Conversion) -> np.ndarray:
    """One image through the recipe of :func:`to_fashion_mnist`: (28, 28) ``uint8``."""
    grey = _greyscale(name, image)
    if spec.invert == "always" or (spec.invert == "auto" and _light_background(grey)):
        grey = 255 - grey
    if grey.shape == IMAGE_SHAPE:
        return grey
    return _frame(grey, spec.background_threshold, spec.sharpen)


def _greyscale(name: str, image: np.ndarray) -> np.ndarray:
    """Luma of an image with 1–4 channels, transparency composited on white."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    if (
        image.dtype != np.uint8
        or image.ndim != 3
        or image.shape[2] not in (1, 2, 3, 4)
        or 0 in image.shape
    ):
        raise ValueError(
            f"image {name!r} has dtype {image.dtype} and shape {image.shape}; "
            "expected uint8 of shape (h, w) or (h, w, c) with c in 1..4"
        )
    colour = image.astype(np.float64)
    if image.shape[2] in (2, 4):
        colour, alpha = colour[..., :-1], colour[..., -1:] / 255.0
        colour = colour * alpha + 255.0 * (1.0 - alpha)
    grey = colour @ np.array(LUMA) if colour.shape[2] == 3 else colour[..., 0]
    return np.clip(np.rint(grey), 0, 255).astype(np.uint8)


def _border(grey: np.ndarray) -> np.ndarray:
    """The outermost pixels of an image, each once."""
    if min(grey.shape) <= 2:
        return grey.ravel()
    return np.concatenate([grey[0], grey[-1], grey[1:-1, 0], grey[1:-1, -1]])


def _light_background(grey: np.ndarray) -> bool:
    """Whether the edge (median) is brighter than the central half (mean)."""
    h, w = grey.shape
    centre = grey[h // 4 : h - h // 4, w // 4 : w - w // 4]
    return float(np.median(_border(grey))) > float(centre.mean())


def _frame(grey: np.ndarray, threshold: int, sharpen: bool) -> np.ndarray:
    """Background to black, trim, resize the longer side to 28, sharpen, centre."""
    from PIL import Image, ImageFilter

    background = int(np.median(_border(grey)))
    grey = np.clip(grey.astype(np.int16) - background, 0, 255).astype(np.uint8)
    rows, cols = np.nonzero(grey > threshold)
    if len(rows):
        grey = grey[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    h, w = grey.shape
    scale = SIDE / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    picture = Image.fromarray(grey).resize(size, Image.Resampling.LANCZOS)
    if sharpen:
        picture = picture.filter(
            ImageFilter.UnsharpMask(radius=1, percent=100, threshold=0)
        )
    canvas = np.zeros(IMAGE_SHAPE, dtype=np.uint8)
    top, left = (SIDE - size[1]) // 2, (SIDE - size[0]) // 2
    canvas[top : top + size[1], left : left + size[0]] = np.asarray(picture)
    return canvas


def predict_images(
    model: SoftmaxWeights, pixels: pd.DataFrame, class_names: ClassNames
) -> pd.DataFrame:
    """Classify converted images with a softmax regression model.

    The numbers are the evaluation's (``fashion_mnist.softmax.probability_table``),
    so a Fashion-MNIST test image gets the same prediction and probabilities
    here as in the evaluation.

    Args:
        model: ``weight`` (k, 784) and ``bias`` (k,), ``float32``, finite.
        pixels: ``file`` and ``pixel_000`` … ``pixel_783`` (``uint8``), as
            from :func:`to_fashion_mnist`.
        class_names: The k class names, in label order.

    Returns:
        One row per image, in the order of ``pixels``: ``file``,
        ``predicted`` (``int64`` class index), ``predicted_class`` (its
        name), ``probability`` (of the predicted class, ``float32``) and
        ``proba_0`` … ``proba_<k-1>`` (``float32``, each row sums to 1).

    Raises:
        ValueError: When ``class_names`` and the model's outputs differ in
            number, the model holds NaN or infinite values, or the pixel
            columns are missing or not ``uint8``.
    """
    from fashion_mnist.schemas import check_model
    from fashion_mnist.softmax import check_classes, probability_table

    names = class_names.root
    check_classes(model, names)
    check_model(model, len(names), "the model")
    missing = [c for c in [FILE_COLUMN, *PIXEL_COLUMNS] if c not in pixels.columns]
    if missing:
        raise ValueError(
            f"the pixel table lacks {len(missing)} column(s), first {missing[0]!r}: "
            "expected file, pixel_000 … pixel_783"
        )
    X = pixels[PIXEL_COLUMNS].to_numpy()
    if X.dtype != np.uint8:
        raise ValueError(
            f"the pixel columns have dtype {X.dtype}, expected uint8 (raw 0–255 pixels)"
        )
    predictions = probability_table(model, X)
    probas = predictions.drop(columns="predicted").to_numpy()
    predictions.insert(
        1, "predicted_class", [names[k] for k in predictions["predicted"]]
    )
    predictions.insert(2, "probability", probas.max(axis=1))
    predictions.insert(0, FILE_COLUMN, pixels[FILE_COLUMN].to_numpy())
    return predictions


def plot_predictions(
    pixels: pd.DataFrame,
    predictions: pd.DataFrame,
    class_names: ClassNames,
    inference: InferenceParams,
) -> Any:
    """Show the converted images titled with their file and predicted class.

    Args:
        pixels: ``file`` and 784 ``uint8`` pixel columns, as the model saw them.
        predictions: ``file``, ``predicted`` and ``probability`` per image, in
            the same order as ``pixels``.
        class_names: The class names, in label order.
        inference: The ``inference`` group; ``grid`` holds ``cols`` (images
            per row), ``max_images`` (the first ones shown, at most 100) and
            ``dpi`` (50–300).

    Returns:
        A matplotlib Figure with ``ceil(shown / cols)`` rows of ``min(cols, shown)`` axes,
        each titled ``"<file>\\n<class> <probability>%"``; when images are
        left out, the figure's title says how many were shown.

    Raises:
        ValueError: When ``pixels`` and ``predictions`` list different files.
    """
    from matplotlib.figure import Figure

    spec, names = inference.grid, class_names.root
    files = pixels[FILE_COLUMN].tolist()
    if files != predictions[FILE_COLUMN].tolist():
        raise ValueError(
            "the pixel table and the predictions list different files "
            f"({len(files)} and {len(predictions)} rows): they must come from the "
            "same run, in the same order"
        )
    shown = min(len(files), spec.max_images)
    cols = max(1, min(spec.cols, shown))
    rows = max(1, math.ceil(shown / cols))
    X = pixels[PIXEL_COLUMNS].to_numpy()[:shown]
    fig = Figure(figsize=(1.6 * cols, 2.0 * rows), dpi=spec.dpi, layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    for ax, image, row in zip(
        axes, X, predictions.head(shown).itertuples(), strict=False
    ):
        ax.imshow(image.reshape(IMAGE_SHAPE), cmap="gray_r", vmin=0, vmax=255)
        ax.set_title(
            f"{_short(row.file)}\n{names[row.predicted]} {row.probability:.0%}",
            fontsize=8,
        )
    for ax in axes:
        ax.set_axis_off()
    if shown < len(files):
        fig.suptitle(f"The first {shown} of {len(files)} images")
    return fig


def _short(name: str) -> str:
    """A file name cut to fit above one image, keeping its end (the extension)."""
    return name if len(name) <= TITLE_CHARS else "…" + name[-(TITLE_CHARS - 1) :]
