"""A folder of the user's own images (PNG, JPEG), decoded with Pillow, read-only."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any, Literal

import numpy as np
from kedro.io import AbstractDataset, DatasetError
from PIL import Image, ImageOps

logger = logging.getLogger(__name__)

DEFAULT_EXTENSIONS = ("png", "jpg", "jpeg")
ON_ERROR = ("raise", "skip")
_SIXTEEN_BIT = 257  # 65535 / 255: 16-bit greyscale PNGs to 8 bits
REDUCING_GAP = 2
# Modes Image.reduce accepts (not "1", "P" nor 16-bit): the others are small in practice.
_REDUCIBLE = frozenset({"L", "LA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "I", "F"})


class ImageFolderDataset(AbstractDataset[None, dict[str, np.ndarray]]):
    """Every image in a folder, as RGBA arrays keyed by file name; read-only.

    - **What is read**: files under ``path`` and its subfolders whose extension
      is in ``extensions`` (case-insensitive), in sorted order of their path
      relative to ``path`` (``"a.png"``, ``"shoes/b.JPG"``). Hidden files and
      folders (a leading ``.``, such as macOS's ``._photo.jpg``) are left
      out; so are files with other extensions, listed in one debug message.
    - **What a load returns**: ``{relative name: array}``, each array of shape
      (height, width, 4), ``uint8``, RGBA. Every Pillow mode becomes RGBA the
      same way (greyscale gives R = G = B; an image without transparency gets
      alpha 255; 16-bit greyscale is scaled to 8 bits, not clipped), and the
      EXIF orientation of phone photos is applied. An image whose longer side
      exceeds ``max_side`` is reduced to it on decoding (JPEG's draft mode,
      then antialiased), so a folder of 12-megapixel photos fits in memory.
      Pillow decodes a PNG only whole: a 12000 x 12000 PNG is held once at
      full size (576 MB for RGB), reduced at once by a whole factor, then
      resized; one above ``PIL.Image.MAX_IMAGE_PIXELS`` is named in a
      warning, and one above twice that is a decompression bomb, refused
      like an unreadable file.
    - **What is logged**: how many images were found, and how many skipped.
    - **A file that is not an image** (an extension in ``extensions`` that
      Pillow cannot decode, or a truncated file): with ``on_error: raise``, a
      ``DatasetError`` naming the file; with ``on_error: skip``, a warning
      naming it, and the other images load.
    - **A missing or empty folder**, or one whose images were all skipped, is
      a ``DatasetError`` naming the folder and saying where to put images.

    Example catalog entry::

        inference_images:
          type: fashion_mnist.datasets.ImageFolderDataset
          path: data/01_raw/inference
          on_error: skip
          hint: Put your images in data/01_raw/inference
    """

    def __init__(  # noqa: PLR0913
        self,
        *,
        path: str,
        extensions: list[str] | tuple[str, ...] = DEFAULT_EXTENSIONS,
        on_error: Literal["raise", "skip"] = "raise",
        max_side: int | None = 1024,
        hint: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Create the dataset.

        Args:
            path: The folder of images.
            extensions: File extensions to read, with or without the dot, in
                any case (``["png", ".JPG"]``).
            on_error: ``"raise"`` (default) or ``"skip"`` for a file with an
                image extension that is not a decodable image.
            max_side: Longest side, in pixels, an image is decoded at; larger
                images are reduced, keeping their aspect ratio. ``None`` keeps
                every image at full size.
            hint: Where the user should put images, for the message about a
                missing or empty folder (e.g. the catalog entry to change).
            metadata: Free-form metadata, ignored by the dataset.

        Raises:
            DatasetError: When ``on_error``, ``extensions`` or ``max_side`` is
                invalid.
        """
        if on_error not in ON_ERROR:
            raise DatasetError(
                f"ImageFolderDataset on_error must be one of {ON_ERROR}, "
                f"got {on_error!r}"
            )
        self._extensions = frozenset(
            f".{str(ext).lower().lstrip('.')}" for ext in extensions
        )
        if not self._extensions or "." in self._extensions:
            raise DatasetError(
                f"ImageFolderDataset extensions must name at least one non-empty "
                f"extension, got {list(extensions)!r}"
            )
        if max_side is not None and max_side < 1:
            raise DatasetError(
                f"ImageFolderDataset max_side must be a positive number of pixels "
                f"or null, got {max_side!r}"
            )
        self._path = Path(path)
        self._on_error = on_error
        self._max_side = max_side
        self._hint = (
            hint
            or (
                f"Put PNG or JPEG files in {self._path}, or set this catalog entry's "
                "path to the folder that holds them"
            )
        ).rstrip(".")
        self.metadata = metadata

    @property
    def path(self) -> Path:
        """The folder of images."""
        return self._path

    def _describe(self) -> dict[str, Any]:
        return {
            "path": str(self._path),
            "extensions": sorted(self._extensions),
            "on_error": self._on_error,
            "max_side": self._max_side,
        }

    def _exists(self) -> bool:
        return bool(self._image_files())

    def _image_files(self) -> list[Path]:
        """The image files, sorted by relative path; logs what else was there."""
        if not self._path.is_dir():
            return []
        files = sorted(
            p
            for p in self._path.rglob("*")
            if p.is_file()
            and not any(
                part.startswith(".") for part in p.relative_to(self._path).parts
            )
        )
        images = [p for p in files if p.suffix.lower() in self._extensions]
        others = [
            self._name(p) for p in files if p.suffix.lower() not in self._extensions
        ]
        if others:
            logger.debug(
                "%s: ignored %d file(s) without an image extension (%s): %s",
                self._path,
                len(others),
                ", ".join(sorted(self._extensions)),
                ", ".join(others),
            )
        return images

    def _name(self, file: Path) -> str:
        return file.relative_to(self._path).as_posix()

    def _no_images(self, why: str) -> DatasetError:
        return DatasetError(f"No images to classify: {why}. {self._hint}.")

    def load(self) -> dict[str, np.ndarray]:
        if not self._path.exists():
            raise self._no_images(f"the folder {self._path} does not exist")
        if not self._path.is_dir():
            raise self._no_images(f"{self._path} is a file, not a folder")
        files = self._image_files()
        if not files:
            kinds = ", ".join(sorted(self._extensions))
            raise self._no_images(f"{self._path} holds no {kinds} files")
        images = {}
        for file in files:
            try:
                images[self._name(file)] = self._decode(file)
            except (OSError, ValueError, Image.DecompressionBombError) as exc:
                if self._on_error == "raise":
                    raise DatasetError(
                        f"{file} is not a readable image ({type(exc).__name__}: "
                        f"{exc}). Remove it from {self._path}, or set on_error: "
                        "skip in this catalog entry to skip unreadable files."
                    ) from exc
                logger.warning(
                    "Skipped %s: not a readable image (%s: %s)",
                    file,
                    type(exc).__name__,
                    exc,
                )
        if not images:
            raise self._no_images(
                f"none of the {len(files)} image file(s) in {self._path} could be "
                "read (each is named in a warning above)"
            )
        skipped = len(files) - len(images)
        logger.info(
            "Found %d image(s) in %s%s",
            len(images),
            self._path,
            f" ({skipped} unreadable file(s) skipped)" if skipped else "",
        )
        return images

    def _decode(self, file: Path) -> np.ndarray:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", Image.DecompressionBombWarning)
            with Image.open(file) as opened:
                if self._max_side is not None:
                    # JPEG decodes at 1/2, 1/4 or 1/8 scale directly: fast and small.
                    opened.draft(None, (self._max_side, self._max_side))
                opened.load()  # a truncated file fails here, inside the caller's try
                upright = ImageOps.exif_transpose(self._reduced(opened))
        bombs = [w for w in caught if w.category is Image.DecompressionBombWarning]
        for other in (w for w in caught if w not in bombs):
            warnings.warn_explicit(
                other.message, other.category, other.filename, other.lineno
            )
        if bombs:
            logger.warning(
                "%s is %d x %d pixels, above Pillow's decompression-bomb warning "
                "limit (Image.MAX_IMAGE_PIXELS = %d): decoded whole, then reduced",
                file,
                *opened.size,
                Image.MAX_IMAGE_PIXELS,
            )
        if upright.mode.startswith("I"):
            # Pillow clips 16-bit greyscale to 255 on convert: scale it first.
            grey = np.rint(np.asarray(upright, dtype=np.float64) / _SIXTEEN_BIT)
            upright = Image.fromarray(np.clip(grey, 0, 255).astype(np.uint8))
        rgba = upright.convert("RGBA")
        if self._max_side is not None and max(rgba.size) > self._max_side:
            rgba.thumbnail((self._max_side, self._max_side), Image.Resampling.LANCZOS)
        return np.asarray(rgba, dtype=np.uint8).copy()

    def _reduced(self, image: Image.Image) -> Image.Image:
        """``image`` shrunk by a whole factor (box filter), to no less than twice ``max_side``.

        Pillow decodes a PNG only whole, so a 12000 x 12000 PNG is in memory
        once; the steps after this one (EXIF turn, RGBA, 16-bit scaling) then
        cost the reduced size, and the antialiased resize starts from at least
        ``REDUCING_GAP`` times the target, as with Pillow's ``thumbnail``
        default. Images under ``2 * REDUCING_GAP * max_side``, palette and
        16-bit ones are returned as they are, so they convert as before.
        """
        if self._max_side is None:
            return image
        factor = max(image.size) // (self._max_side * REDUCING_GAP)
        if factor < 2 or image.mode not in _REDUCIBLE:
            return image
        return image.reduce(factor)

    def save(self, data: dict[str, np.ndarray]) -> None:
        raise DatasetError(
            f"ImageFolderDataset is read-only: it does not write to {self._path}"
        )


__all__ = ["ImageFolderDataset"]
