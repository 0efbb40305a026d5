"""ImageFolderDataset: every image of a folder as RGBA arrays, clear errors."""

import logging
import subprocess
import sys

import numpy as np
import pytest
from kedro.io import DatasetError
from PIL import Image

from fashion_mnist.datasets import ImageFolderDataset

LOGGER = "fashion_mnist.datasets.image_folder_dataset"


def _write(path, array, **save_args):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, **save_args)
    return array


def _grey(height=30, width=20, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (height, width), dtype=np.uint8)


def test_images_load_as_rgba_uint8_arrays_keyed_by_relative_name_in_sorted_order(
    tmp_path,
):
    grey = _write(tmp_path / "b.png", _grey())
    rgb = _write(tmp_path / "a.JPG", np.full((10, 12, 3), [200, 30, 90], np.uint8))
    _write(tmp_path / "shoes" / "c.jpeg", np.zeros((8, 8, 3), np.uint8))

    images = ImageFolderDataset(path=str(tmp_path)).load()

    assert list(images) == ["a.JPG", "b.png", "shoes/c.jpeg"]
    assert all(a.dtype == np.uint8 and a.shape[2] == 4 for a in images.values())
    np.testing.assert_array_equal(images["b.png"][..., :3], np.dstack([grey] * 3))
    assert (images["b.png"][..., 3] == 255).all()
    assert images["a.JPG"].shape == (10, 12, 4)
    np.testing.assert_allclose(images["a.JPG"][5, 5, :3], rgb[5, 5], atol=3)


def test_transparency_and_16_bit_grey_are_kept_not_clipped(tmp_path):
    cutout = np.zeros((6, 6, 4), np.uint8)
    cutout[2:4, 2:4] = [9, 8, 7, 255]  # opaque garment, transparent around it
    rgba = _write(tmp_path / "cutout.png", cutout)
    deep = (np.arange(36, dtype=np.uint16).reshape(6, 6) * 1800).astype(np.uint16)
    _write(tmp_path / "deep.png", deep)

    images = ImageFolderDataset(path=str(tmp_path)).load()

    np.testing.assert_array_equal(images["cutout.png"], rgba)
    np.testing.assert_array_equal(
        images["deep.png"][..., 0], np.rint(deep / 257).astype(np.uint8)
    )


def test_a_phone_photo_is_turned_upright_by_its_exif_orientation(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    _write(tmp_path / "phone.jpg", np.zeros((20, 40, 3), np.uint8), exif=exif)

    images = ImageFolderDataset(path=str(tmp_path)).load()

    assert images["phone.jpg"].shape == (40, 20, 4)


def test_an_image_larger_than_max_side_is_reduced_keeping_its_aspect_ratio(tmp_path):
    _write(tmp_path / "big.png", _grey(200, 400))
    _write(tmp_path / "big.jpg", np.zeros((300, 900, 3), np.uint8))

    images = ImageFolderDataset(path=str(tmp_path), max_side=100).load()

    assert images["big.png"].shape == (50, 100, 4)
    assert images["big.jpg"].shape == (33, 100, 4)


def _smooth(height, width):
    """A garment-like picture without pixel noise: a soft bright oval on black."""
    y, x = np.mgrid[0:height, 0:width]
    oval = ((y - height / 2) / (0.4 * height)) ** 2 + (
        (x - width / 2) / (0.3 * width)
    ) ** 2
    return np.clip(255 * (1.2 - oval), 0, 255).astype(np.uint8)


def test_an_image_up_to_four_times_max_side_is_resized_in_one_step_as_before(
    tmp_path,
):
    grey = _write(tmp_path / "photo.png", _smooth(399, 250))

    images = ImageFolderDataset(path=str(tmp_path), max_side=100).load()

    expected = Image.fromarray(grey).convert("RGBA")
    expected.thumbnail((100, 100), Image.Resampling.LANCZOS)
    np.testing.assert_array_equal(images["photo.png"], np.asarray(expected))


def test_a_huge_image_is_first_reduced_by_a_whole_factor_with_no_visible_change(
    tmp_path,
):
    grey = _write(tmp_path / "poster.png", _smooth(1200, 700))

    images = ImageFolderDataset(path=str(tmp_path), max_side=100).load()

    direct = Image.fromarray(grey).convert("RGBA")
    direct.thumbnail((100, 100), Image.Resampling.LANCZOS)
    assert images["poster.png"].shape == (100, 58, 4)
    difference = np.abs(images["poster.png"].astype(int) - np.asarray(direct))
    assert difference.mean() < 1 and difference.max() <= 8


def test_an_image_above_pillows_pixel_limit_is_named_in_a_warning_and_loads(
    tmp_path, caplog, monkeypatch
):
    _write(tmp_path / "wide.png", _grey(40, 50))
    # Pillow's documented knob: a warning above it, an error above twice it.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1500)

    with caplog.at_level(logging.WARNING, logger=LOGGER):
        images = ImageFolderDataset(path=str(tmp_path)).load()

    assert images["wide.png"].shape == (40, 50, 4)
    (warning,) = caplog.records
    assert warning.message == (
        f"{tmp_path / 'wide.png'} is 50 x 40 pixels, above Pillow's decompression-bomb "
        "warning limit (Image.MAX_IMAGE_PIXELS = 1500): decoded whole, then reduced"
    )


def test_an_image_above_twice_pillows_limit_is_refused_as_a_decompression_bomb(
    tmp_path, monkeypatch
):
    _write(tmp_path / "bomb.png", _grey(40, 50))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 999)

    with pytest.raises(
        DatasetError,
        match=r"bomb\.png is not a readable image \(DecompressionBombError",
    ):
        ImageFolderDataset(path=str(tmp_path)).load()


# Peak memory is a property of a process: measured in a fresh one.
_PEAK = """
import resource, sys
from fashion_mnist.datasets.image_folder_dataset import ImageFolderDataset
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
images = ImageFolderDataset(path=sys.argv[1]).load()
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(images["black.png"].shape, grown * 1024)
"""


def test_a_6000_pixel_png_costs_less_than_two_decoded_copies_of_memory(tmp_path):
    side = 6000
    Image.new("RGB", (side, side)).save(tmp_path / "black.png")
    decoded = 4 * side * side  # Pillow holds RGB as 4 bytes a pixel: 144 MB

    done = subprocess.run(
        [sys.executable, "-c", _PEAK, str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )

    shape, grown = done.stdout.split(") ")
    assert shape == "(1024, 1024, 4"
    # Measured: 257 MB; 601 MB when RGBA, EXIF turn and resize all ran at full size.
    assert int(grown) < 2 * decoded, f"{int(grown) / 1e6:.0f} MB"


def test_a_file_with_an_image_extension_that_is_no_image_raises_naming_it(tmp_path):
    _write(tmp_path / "good.png", _grey())
    (tmp_path / "notes.png").write_text("not a picture")

    with pytest.raises(
        DatasetError,
        match=r"notes\.png is not a readable image \(.*\)\. Remove it from .*, "
        r"or set on_error: skip",
    ):
        ImageFolderDataset(path=str(tmp_path)).load()


def test_a_truncated_image_raises_too(tmp_path):
    _write(tmp_path / "cut.png", _grey(64, 64))
    data = (tmp_path / "cut.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])

    with pytest.raises(DatasetError, match=r"cut\.png is not a readable image"):
        ImageFolderDataset(path=str(tmp_path)).load()


def test_with_on_error_skip_a_broken_file_is_skipped_with_a_warning_naming_it(
    tmp_path, caplog
):
    _write(tmp_path / "good.png", _grey())
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 half a jpeg")

    with caplog.at_level(logging.INFO, logger=LOGGER):
        images = ImageFolderDataset(path=str(tmp_path), on_error="skip").load()

    assert list(images) == ["good.png"]
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "Skipped" in warning.message and "broken.jpg" in warning.message
    assert caplog.records[-1].message == (
        f"Found 1 image(s) in {tmp_path} (1 unreadable file(s) skipped)"
    )


def test_when_every_file_is_skipped_the_error_says_none_could_be_read(tmp_path):
    (tmp_path / "broken.png").write_text("no")

    with pytest.raises(
        DatasetError, match=r"none of the 1 image file\(s\) in .* could be read"
    ):
        ImageFolderDataset(path=str(tmp_path), on_error="skip").load()


def test_other_extensions_and_hidden_files_are_ignored_with_one_debug_message(
    tmp_path, caplog
):
    _write(tmp_path / "shirt.png", _grey())
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "shirt.webp").write_bytes(b"RIFF")
    (tmp_path / "._shirt.png").write_bytes(b"AppleDouble")  # macOS metadata

    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        images = ImageFolderDataset(path=str(tmp_path)).load()

    assert list(images) == ["shirt.png"]
    debug, found = [r for r in caplog.records if r.name == LOGGER]
    assert debug.levelno == logging.DEBUG
    assert "notes.txt, shirt.webp" in debug.message
    assert (found.levelno, found.message) == (
        logging.INFO,
        f"Found 1 image(s) in {tmp_path}",
    )


def test_extensions_are_matched_whatever_their_case_or_dot(tmp_path):
    _write(tmp_path / "a.PNG", _grey())
    _write(tmp_path / "b.jpg", np.zeros((4, 4, 3), np.uint8))

    images = ImageFolderDataset(path=str(tmp_path), extensions=[".Png"]).load()

    assert list(images) == ["a.PNG"]


def test_a_missing_folder_is_named_with_where_to_put_images(tmp_path):
    dataset = ImageFolderDataset(
        path=str(tmp_path / "mine"), hint="Put your images in data/01_raw/inference"
    )

    with pytest.raises(
        DatasetError,
        match=r"No images to classify: the folder .*mine does not exist\. "
        r"Put your images in data/01_raw/inference\.$",
    ):
        dataset.load()
    assert not dataset.exists()


def test_an_empty_folder_is_named_with_the_extensions_it_looks_for(tmp_path):
    (tmp_path / "readme.txt").write_text("put images here")

    with pytest.raises(
        DatasetError,
        match=r"No images to classify: .* holds no \.jpeg, \.jpg, \.png files\. "
        r"Put PNG or JPEG files in .*, or set this catalog entry's path",
    ):
        ImageFolderDataset(path=str(tmp_path)).load()


def test_the_dataset_is_read_only(tmp_path):
    with pytest.raises(DatasetError, match="read-only"):
        ImageFolderDataset(path=str(tmp_path)).save({"a.png": _grey()})


def test_an_unknown_on_error_is_refused_when_the_catalog_is_built():
    with pytest.raises(DatasetError, match=r"on_error must be one of .* got 'ignore'"):
        ImageFolderDataset(path="data/01_raw/inference", on_error="ignore")
