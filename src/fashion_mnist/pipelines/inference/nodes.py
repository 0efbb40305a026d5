"""Inference nodes: the user's images in Fashion-MNIST's format, predicted, drawn.

Pillow, torch and matplotlib are imported by the nodes when they run, never at
import time: every ``kedro`` command (``kedro registry list`` too) imports this
module. The grid is typed ``Any``: it is a ``matplotlib.figure.Figure``.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import pandas as pd

from fashion_mnist.params import ClassNames, InferenceParams
from fashion_mnist.schemas import IMAGE_SHAPE, PIXEL_COLUMNS, SoftmaxWeights

from .conversion import convert

logger = logging.getLogger(__name__)

FILE_COLUMN = "file"
WARNING_COLUMN = "warning"
TITLE_CHARS = 18
NAMES_LOGGED = 10


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

    4. **Check**: an image with no pixel brighter than
       ``background_threshold`` left (a blank or one-colour picture: an
       all-black PNG, a 1×1 grey dot, a uniform 5000×3 strip) gets a
       ``warning``, and so does one whose object is under half a pixel thick
       at 28×28 (a bright thread across a 5000×3 image); one log line names
       them all. The model would answer an empty picture with its bias
       alone, whatever the image showed.

    Args:
        images: Images in the order to keep, keyed by file name; each of
            shape (h, w) or (h, w, c), ``uint8`` in 0–255, with c = 1 (grey),
            2 (grey, alpha), 3 (RGB) or 4 (RGBA), any size.
        inference: The ``inference`` group; ``conversion`` holds ``invert``
            (``auto`` | ``always`` | ``never``), ``background_threshold``
            (0–254 grey levels) and ``sharpen`` (bool).

    Returns:
        One row per image, in the order of ``images``: ``file`` (str),
        ``warning`` (str, ``""`` for an image that converted well), then
        ``pixel_000`` … ``pixel_783`` (``uint8``, row-major, light object
        on a black background, as in the Fashion-MNIST tables).

    Raises:
        ValueError: When ``images`` is empty, or an image has another dtype
            or shape (naming the file).
    """
    spec = inference.conversion
    if not images:
        raise ValueError("no images to convert: the image folder gave none")
    converted = [convert(name, image, spec) for name, image in images.items()]
    table = pd.DataFrame(
        np.stack([picture.ravel() for picture, _ in converted]), columns=PIXEL_COLUMNS
    )
    table.insert(0, FILE_COLUMN, list(images))
    table.insert(1, WARNING_COLUMN, [warning for _, warning in converted])
    flagged = table.loc[table[WARNING_COLUMN] != "", FILE_COLUMN].tolist()
    if flagged:
        logger.warning(
            "%d of %d image(s) lost their content in conversion to 28 x 28 and are "
            "flagged in the warning column of the predictions: %s",
            len(flagged),
            len(table),
            _listed(flagged),
        )
    return table


def _listed(files: list[str]) -> str:
    """The first few file names, comma-separated, and how many more there are."""
    shown = ", ".join(files[:NAMES_LOGGED])
    more = len(files) - NAMES_LOGGED
    return f"{shown} and {more} more" if more > 0 else shown


def predict_images(
    model: SoftmaxWeights,
    pixels: pd.DataFrame,
    class_names: ClassNames,
    inference: InferenceParams,
) -> pd.DataFrame:
    """Classify converted images with a softmax regression model, and log a summary.

    The numbers are the evaluation's (``fashion_mnist.softmax.probability_table``),
    so a Fashion-MNIST test image gets the same prediction and probabilities
    here as in the evaluation. One log line sums the predictions up: how
    many images per class, and which are less probable than
    ``inference.min_confidence`` or flagged by the conversion.

    Args:
        model: ``weight`` (k, 784) and ``bias`` (k,), ``float32``, finite.
        pixels: ``file``, optionally ``warning``, and ``pixel_000`` …
            ``pixel_783`` (``uint8``), as from :func:`to_fashion_mnist`.
        class_names: The k class names, in label order.
        inference: The ``inference`` group; ``min_confidence`` (0–1) is the
            probability under which a prediction counts as unsure.

    Returns:
        One row per image, in the order of ``pixels``: ``file``,
        ``predicted`` (``int64`` class index), ``predicted_class`` (its
        name), ``probability`` (of the predicted class, ``float32``),
        ``warning`` (str, ``""`` unless the conversion lost the image) and
        ``proba_0`` … ``proba_<k-1>`` (``float32``, each row sums to 1).
        The file names are the real ones: the catalog's
        ``SpreadsheetCSVDataset`` quotes those a spreadsheet would run.

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
    warnings = pixels.get(WARNING_COLUMN, pd.Series("", index=pixels.index))
    predictions.insert(4, WARNING_COLUMN, warnings.to_numpy())
    logger.info("%s", _summary(predictions, inference.min_confidence))
    return predictions


def _summary(predictions: pd.DataFrame, min_confidence: float) -> str:
    """One line: images per predicted class, the unsure ones and the flagged ones."""
    counts = predictions["predicted_class"].value_counts(sort=True)
    per_class = ", ".join(f"{n} {name}" for name, n in counts.items())
    unsure = predictions.loc[predictions["probability"] < min_confidence, FILE_COLUMN]
    flagged = (predictions[WARNING_COLUMN] != "").sum()
    line = (
        f"Predicted {len(predictions)} image(s): {per_class}; {len(unsure)} below "
        f"inference.min_confidence = {min_confidence:.0%}"
    )
    if len(unsure):
        line += f" ({_listed(unsure.tolist())})"
    if flagged:
        line += f"; {flagged} flagged in the warning column"
    return line


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
            per row), ``max_images`` (the first ones shown, at most 100),
            ``order`` (``name``: the order of ``pixels``; ``least_confident``:
            the lowest ``probability`` first, ties in file order) and ``dpi``
            (50–300).

    Returns:
        A matplotlib Figure with ``ceil(shown / cols)`` rows of ``min(cols, shown)`` axes,
        each titled ``"<file>\\n<class> <probability>%"``, in red for an
        image flagged in ``warning``; the figure's title says when images are
        left out or shown least confident first.

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
    least_confident = spec.order == "least_confident"
    order = (
        np.argsort(predictions["probability"].to_numpy(), kind="stable")
        if least_confident
        else np.arange(len(files))
    )[:shown]
    X = pixels[PIXEL_COLUMNS].to_numpy()[order]
    warnings = predictions.get(WARNING_COLUMN, pd.Series("", index=predictions.index))
    fig = Figure(figsize=(1.6 * cols, 2.0 * rows), dpi=spec.dpi, layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    for ax, image, i in zip(axes, X, order, strict=False):
        row = predictions.iloc[i]
        ax.imshow(image.reshape(IMAGE_SHAPE), cmap="gray_r", vmin=0, vmax=255)
        ax.set_title(
            f"{_short(row[FILE_COLUMN])}\n"
            f"{names[row['predicted']]} {row['probability']:.0%}",
            fontsize=8,
            **({"color": "tab:red"} if warnings.iloc[i] else {}),
        )
    for ax in axes:
        ax.set_axis_off()
    if shown < len(files) and least_confident:
        fig.suptitle(f"The {shown} least confident of {len(files)} images")
    elif shown < len(files):
        fig.suptitle(f"The first {shown} of {len(files)} images")
    elif least_confident:
        fig.suptitle(f"All {shown} images, least confident first")
    return fig


def _short(name: str) -> str:
    """A file name cut to fit above one image, keeping its end (the extension)."""
    return name if len(name) <= TITLE_CHARS else "…" + name[-(TITLE_CHARS - 1) :]


def inference_inputs(pixels: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Name the converted images as the run's dataset input (context ``inference``).

    Args:
        pixels: One row per image, as from :func:`to_fashion_mnist`.

    Returns:
        ``inference_images``: the images as the model saw them.
    """
    return {"inference_images": pixels}
