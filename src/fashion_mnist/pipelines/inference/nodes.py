"""Inference nodes: the user's images in Fashion-MNIST's format, predicted, drawn.

numpy, pandas, torch, Pillow and matplotlib are imported by the nodes when they
run, never at import time: every ``kedro`` command (``kedro registry list``
too) imports this module.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from fashion_mnist.contracts import MAX_GRID_IMAGES, parse_parameters
from fashion_mnist.pipelines.evaluation.nodes import check_finite_model
from fashion_mnist.tables import IMAGE_SHAPE, PIXEL_COLUMNS

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import torch
    from matplotlib.figure import Figure

FILE_COLUMN = "file"
SIDE = IMAGE_SHAPE[0]
# ITU-R BT.601 luma, the weights of Pillow's convert("L").
LUMA = (0.299, 0.587, 0.114)
TITLE_CHARS = 18


class Conversion(BaseModel):
    """``inference.conversion``: how an image is brought to Fashion-MNIST's format."""

    model_config = ConfigDict(extra="forbid")

    invert: Literal["auto", "always", "never"]
    background_threshold: int = Field(ge=0, le=254)
    sharpen: bool


class Grid(BaseModel):
    """``inference.grid``: the figure of the converted images and their predictions."""

    model_config = ConfigDict(extra="forbid")

    cols: int = Field(ge=1, le=MAX_GRID_IMAGES)
    max_images: int = Field(ge=1, le=MAX_GRID_IMAGES)
    dpi: int = Field(ge=50, le=300)


class InferenceParams(BaseModel):
    """The ``inference`` parameter group (``conf/base/parameters_inference.yml``)."""

    model_config = ConfigDict(extra="forbid")

    conversion: Conversion
    grid: Grid
    # Given on the command line (--params inference.images_dir=<folder>) for the
    # catalog's inference_images and inference_model entries; the nodes ignore them.
    images_dir: str | None = None
    model_uri: str | None = None


def to_fashion_mnist(
    images: dict[str, np.ndarray], params: dict[str, Any]
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
        params: The ``inference`` parameters; ``conversion`` holds ``invert``
            (``auto`` | ``always`` | ``never``), ``background_threshold``
            (0–254 grey levels) and ``sharpen`` (bool).

    Returns:
        One row per image, in the order of ``images``: ``file`` (str), then
        ``pixel_000`` … ``pixel_783`` (``uint8``, row-major, light object
        on a black background, as in the Fashion-MNIST tables).

    Raises:
        ValueError: When ``images`` is empty, or an image has another dtype
            or shape (naming the file).
        fashion_mnist.contracts.ParameterContractError: Naming each bad
            ``inference`` parameter.
    """
    import numpy as np
    import pandas as pd

    spec = parse_parameters(InferenceParams, params, "inference").conversion
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
    import numpy as np

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
    import numpy as np

    if min(grey.shape) <= 2:
        return grey.ravel()
    return np.concatenate([grey[0], grey[-1], grey[1:-1, 0], grey[1:-1, -1]])


def _light_background(grey: np.ndarray) -> bool:
    """Whether the edge (median) is brighter than the central half (mean)."""
    import numpy as np

    h, w = grey.shape
    centre = grey[h // 4 : h - h // 4, w // 4 : w - w // 4]
    return float(np.median(_border(grey))) > float(centre.mean())


def _frame(grey: np.ndarray, threshold: int, sharpen: bool) -> np.ndarray:
    """Background to black, trim, resize the longer side to 28, sharpen, centre."""
    import numpy as np
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
    model: dict[str, torch.Tensor], pixels: pd.DataFrame, class_names: list[str]
) -> pd.DataFrame:
    """Classify converted images with a softmax regression model.

    The numerics are those of the evaluation's ``predict_split``: pixels
    scaled to [0, 1] by ``to_features``, logits ``X @ W.T + b``, then
    ``torch.softmax``, so a Fashion-MNIST test image gets the same prediction
    and probabilities here as in the evaluation.

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
    import numpy as np
    import pandas as pd
    import torch

    from fashion_mnist.softmax import linear_logits, to_features

    if len(class_names) != model["bias"].shape[0]:
        raise ValueError(
            f"parameter 'class_names' lists {len(class_names)} classes but the "
            f"model has {model['bias'].shape[0]} outputs"
        )
    check_finite_model(model)
    missing = [c for c in [FILE_COLUMN, *PIXEL_COLUMNS] if c not in pixels.columns]
    if missing:
        raise ValueError(
            f"the pixel table lacks {len(missing)} column(s), first {missing[0]!r}: "
            "expected file, pixel_000 … pixel_783"
        )
    # C-contiguous, as table_to_arrays gives predict_split: the same matmul, bit for bit.
    X = np.require(pixels[PIXEL_COLUMNS].to_numpy(), requirements="CW")
    if X.dtype != np.uint8:
        raise ValueError(
            f"the pixel columns have dtype {X.dtype}, expected uint8 (raw 0–255 pixels)"
        )
    with torch.no_grad():
        logits = linear_logits(model, to_features(X))
        probs = torch.softmax(logits, dim=1)
    predicted = logits.argmax(dim=1).numpy()
    predictions = pd.DataFrame(
        probs.numpy(), columns=[f"proba_{k}" for k in range(probs.shape[1])]
    )
    predictions.insert(0, "probability", probs.max(dim=1).values.numpy())
    predictions.insert(0, "predicted_class", [class_names[k] for k in predicted])
    predictions.insert(0, "predicted", predicted.astype(np.int64))
    predictions.insert(0, FILE_COLUMN, pixels[FILE_COLUMN].to_numpy())
    return predictions


def plot_predictions(
    pixels: pd.DataFrame,
    predictions: pd.DataFrame,
    class_names: list[str],
    params: dict[str, Any],
) -> Figure:
    """Show the converted images titled with their file and predicted class.

    Args:
        pixels: ``file`` and 784 ``uint8`` pixel columns, as the model saw them.
        predictions: ``file``, ``predicted`` and ``probability`` per image, in
            the same order as ``pixels``.
        class_names: The class names, in label order.
        params: The ``inference`` parameters; ``grid`` holds ``cols`` (images
            per row), ``max_images`` (the first ones shown, at most 100) and
            ``dpi`` (50–300).

    Returns:
        A figure with ``ceil(shown / cols)`` rows of ``min(cols, shown)`` axes,
        each titled ``"<file>\\n<class> <probability>%"``; when images are
        left out, the figure's title says how many were shown.

    Raises:
        ValueError: When ``pixels`` and ``predictions`` list different files.
        fashion_mnist.contracts.ParameterContractError: Naming each bad
            ``inference`` parameter, before any drawing.
    """
    import numpy as np
    from matplotlib.figure import Figure

    spec = parse_parameters(InferenceParams, params, "inference").grid
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
            f"{_short(row.file)}\n{class_names[row.predicted]} {row.probability:.0%}",
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
