"""One image through the recipe of :func:`.nodes.to_fashion_mnist`, and what it lost."""

from __future__ import annotations

import numpy as np

from fashion_mnist.params import Conversion
from fashion_mnist.schemas import IMAGE_SHAPE

SIDE = IMAGE_SHAPE[0]
# ITU-R BT.601 luma, the weights of Pillow's convert("L").
LUMA = (0.299, 0.587, 0.114)
# The model answers an empty picture with its bias alone (Sandal 0.455 for the
# default champion): a prediction that says nothing about the image.
EMPTY = (
    "empty after conversion (one colour, nothing brighter than the background): "
    "the prediction says nothing about the image"
)


def convert(name: str, image: np.ndarray, spec: Conversion) -> tuple[np.ndarray, str]:
    """The image as (28, 28) ``uint8`` and a warning ("" when nothing was lost)."""
    grey = _greyscale(name, image)
    if spec.invert == "always" or (spec.invert == "auto" and _light_background(grey)):
        grey = 255 - grey
    if grey.shape == IMAGE_SHAPE:
        picture, thin = grey, ""
    else:
        picture, thin = _frame(grey, spec.background_threshold, spec.sharpen)
    if picture.max() <= spec.background_threshold:
        return picture, EMPTY
    return picture, thin


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


def _frame(grey: np.ndarray, threshold: int, sharpen: bool) -> tuple[np.ndarray, str]:
    """Background to black, trim, resize the longer side to 28, sharpen, centre.

    Returns the 28×28 picture, and a warning when the object's shorter side
    rounds to no pixel at 28 pixels (it is then drawn one pixel wide).
    """
    # Pillow when a node runs, not when a `kedro` command imports the pipeline.
    from PIL import Image, ImageFilter

    background = int(np.median(_border(grey)))
    grey = np.clip(grey.astype(np.int16) - background, 0, 255).astype(np.uint8)
    rows, cols = np.nonzero(grey > threshold)
    if len(rows):
        grey = grey[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    h, w = grey.shape
    scale = SIDE / max(h, w)
    thin = (
        f"{w} x {h} pixels after trimming: under half a pixel thick at 28 x 28"
        if round(min(h, w) * scale) < 1
        else ""
    )
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    picture = Image.fromarray(grey).resize(size, Image.Resampling.LANCZOS)
    if sharpen:
        picture = picture.filter(
            ImageFilter.UnsharpMask(radius=1, percent=100, threshold=0)
        )
    canvas = np.zeros(IMAGE_SHAPE, dtype=np.uint8)
    top, left = (SIDE - size[1]) // 2, (SIDE - size[0]) // 2
    canvas[top : top + size[1], left : left + size[0]] = np.asarray(picture)
    return canvas, thin
