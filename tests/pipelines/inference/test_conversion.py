"""Converting pictures to the 784-pixel table: trim, invert, greyscale, resize, flag."""

import logging

import numpy as np
import pandas as pd
import pytest

from fashion_mnist.pipelines.inference.conversion import EMPTY
from fashion_mnist.pipelines.inference.nodes import to_fashion_mnist
from fashion_mnist.schemas import IMAGE_SHAPE, PIXEL_COLUMNS
from tests.pipelines.inference.inputs import LOGGER, _garment, _params
from tests.support.synthetic import make_images


def _grid(row: pd.Series) -> np.ndarray:
    return row[PIXEL_COLUMNS].to_numpy(dtype=np.uint8).reshape(IMAGE_SHAPE)


def _extent(image: np.ndarray) -> tuple[int, int, int, int]:
    """Top, bottom, left and right margins of the lit pixels."""
    rows, cols = np.nonzero(image)
    return rows.min(), 27 - rows.max(), cols.min(), 27 - cols.max()


def test_the_table_has_a_file_column_then_784_uint8_pixels_in_the_given_order():
    images = {"b.png": _garment(), "a.jpg": _garment(80, 60, (5, 10, 60, 30))}

    table = to_fashion_mnist(images, _params())

    assert list(table.columns) == ["file", "warning", *PIXEL_COLUMNS]
    assert table["file"].tolist() == ["b.png", "a.jpg"]
    assert (table[PIXEL_COLUMNS].dtypes == np.uint8).all()


def test_a_300_by_200_garment_is_trimmed_resized_to_28_rows_and_centred():
    table = to_fashion_mnist({"shirt.png": _garment()}, _params())

    image = _grid(table.iloc[0])
    top, bottom, left, right = _extent(image)
    assert (top, bottom) == (0, 0)  # the longer side fills all 28 rows
    assert abs(left - right) <= 1  # the shorter side is centred
    assert 28 - left - right == pytest.approx(28 * 180 / 240, abs=1)
    assert image[14, 14] > 150  # light garment on black: not inverted


def test_a_dark_garment_on_white_is_inverted_to_the_same_pixels_as_on_black():
    on_black = _garment()
    on_white = 255 - on_black

    table = to_fashion_mnist({"black": on_black, "white": on_white}, _params())

    assert _grid(table.iloc[1])[14, 14] > 150
    np.testing.assert_array_equal(_grid(table.iloc[1]), _grid(table.iloc[0]))


def test_invert_always_and_never_override_the_automatic_choice():
    image = make_images(1)[0][0]  # 28x28, light on dark: auto keeps it

    always = to_fashion_mnist({"x": image}, _params(invert="always"))
    never = to_fashion_mnist({"x": 255 - image}, _params(invert="never"))

    np.testing.assert_array_equal(_grid(always.iloc[0]), 255 - image)
    np.testing.assert_array_equal(_grid(never.iloc[0]), 255 - image)


def test_a_28_by_28_grey_image_keeps_its_pixels_exactly():
    images, _ = make_images(n_per_class=3, seed=4)
    images[images < 60] = 0  # light garment on black, as in Fashion-MNIST

    table = to_fashion_mnist({f"{i}.png": im for i, im in enumerate(images)}, _params())

    np.testing.assert_array_equal(
        table[PIXEL_COLUMNS].to_numpy(), images.reshape(len(images), -1)
    )


def test_rgb_is_greyscaled_with_itu_r_601_luma():
    image = np.zeros((28, 28, 3), dtype=np.uint8)
    image[10:14, 4:8] = [255, 0, 0]
    image[10:14, 12:16] = [0, 255, 0]
    image[10:14, 20:24] = [0, 0, 255]
    image[20:24, 4:24] = [90, 90, 90]

    grey = _grid(to_fashion_mnist({"rgb.png": image}, _params()).iloc[0])

    assert [grey[11, 5], grey[11, 13], grey[11, 21]] == [76, 150, 29]
    assert grey[21, 10] == 90  # grey pixels keep their value
    assert grey[0, 0] == 0


def test_transparent_pixels_count_as_white_background_and_end_up_black():
    rgb = np.full((60, 40, 3), 255, dtype=np.uint8)
    rgb[_garment(60, 40, (5, 10, 50, 20)) > 0] = [30, 40, 50]
    rgba = np.dstack([rgb, np.full((60, 40), 255, dtype=np.uint8)])
    rgba[rgb.sum(axis=2) == 3 * 255] = [0, 0, 0, 0]  # transparent black background

    table = to_fashion_mnist({"rgb": rgb, "rgba": rgba}, _params())

    np.testing.assert_array_equal(_grid(table.iloc[1]), _grid(table.iloc[0]))
    assert _grid(table.iloc[1])[0, 0] == 0
    assert _grid(table.iloc[1])[14, 14] > 150


@pytest.mark.parametrize(
    "shape", [(40, 30), (40, 30, 1), (40, 30, 2), (40, 30, 3), (40, 30, 4)]
)
def test_every_channel_layout_of_the_same_grey_garment_converts_alike(shape):
    grey = _garment(40, 30, (4, 8, 32, 14))
    channels = shape[2] if len(shape) == 3 else 0
    layers = {0: [], 1: [grey], 2: [grey, 255], 3: [grey] * 3, 4: [grey] * 3 + [255]}
    image = (
        grey
        if not channels
        else np.dstack(
            [np.broadcast_to(np.uint8(x), (40, 30)) for x in layers[channels]]
        )
    )

    table = to_fashion_mnist({"plain": grey, "layout": image}, _params())

    np.testing.assert_array_equal(_grid(table.iloc[1]), _grid(table.iloc[0]))


def test_a_small_image_is_enlarged_so_its_longer_side_fills_28_pixels():
    small = _garment(14, 10, (1, 3, 12, 4))

    image = _grid(to_fashion_mnist({"icon.png": small}, _params()).iloc[0])

    top, bottom, _, _ = _extent(image)
    assert (top, bottom) == (0, 0)


def test_a_blank_image_converts_to_black_without_error():
    white = np.full((50, 70, 3), 255, dtype=np.uint8)

    table = to_fashion_mnist({"blank.png": white}, _params())

    assert (table[PIXEL_COLUMNS].to_numpy() == 0).all()
    assert table["warning"].tolist() == [EMPTY]


def _line(width=5000, height=3, middle=None):
    """A one-colour strip (grey 200), or a black one with a bright middle row."""
    strip = np.full((height, width), 200 if middle is None else 0, dtype=np.uint8)
    if middle is not None:
        strip[height // 2] = middle
    return strip


def test_pictures_with_nothing_left_after_conversion_are_flagged_and_named(caplog):
    images = {
        "black.png": np.zeros((1200, 1200, 3), dtype=np.uint8),
        "grey_dot.png": np.full((1, 1), 128, dtype=np.uint8),
        "line.png": _line(),
        "shirt.png": _garment(),
        "thread.png": _line(middle=255),
    }

    with caplog.at_level(logging.WARNING, logger=LOGGER):
        table = to_fashion_mnist(images, _params())

    assert table["warning"].tolist() == [
        EMPTY,
        EMPTY,
        EMPTY,
        "",
        "5000 x 1 pixels after trimming: under half a pixel thick at 28 x 28",
    ]
    assert _grid(table.iloc[4]).max() > 13  # the thread is drawn, one pixel high
    (warning,) = caplog.records
    assert warning.message == (
        "4 of 5 image(s) lost their content in conversion to 28 x 28 and are flagged "
        "in the warning column of the predictions: black.png, grey_dot.png, "
        "line.png, thread.png"
    )


def test_an_image_of_another_dtype_or_shape_is_refused_by_file_name():
    with pytest.raises(ValueError, match=r"image 'float\.png' has dtype float64"):
        to_fashion_mnist({"float.png": np.zeros((28, 28))}, _params())
    with pytest.raises(ValueError, match=r"image 'five\.png' .* shape \(4, 4, 5\)"):
        to_fashion_mnist({"five.png": np.zeros((4, 4, 5), dtype=np.uint8)}, _params())


def test_no_images_is_an_error_not_an_empty_table():
    with pytest.raises(ValueError, match="no images to convert"):
        to_fashion_mnist({}, _params())
