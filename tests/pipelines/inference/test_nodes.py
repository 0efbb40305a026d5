import logging

import numpy as np
import pandas as pd
import pytest
import torch
from pydantic import ValidationError

from fashion_mnist.params import ClassNames, InferenceParams
from fashion_mnist.pipelines.inference.conversion import EMPTY
from fashion_mnist.pipelines.inference.nodes import (
    plot_predictions,
    predict_images,
    to_fashion_mnist,
)
from fashion_mnist.schemas import (
    IMAGE_SHAPE,
    PIXEL_COLUMNS,
    ModelContractError,
    table_to_arrays,
)
from fashion_mnist.softmax import probability_table
from tests.support.synthetic import CLASS_NAMES, make_images, make_table

PROBAS = [f"proba_{k}" for k in range(10)]
NAMES = ClassNames(CLASS_NAMES)
LOGGER = "fashion_mnist.pipelines.inference.nodes"


def _params(grid=None, **conversion) -> InferenceParams:
    return InferenceParams.model_validate(_raw(grid, **conversion))


def _raw(grid=None, **conversion) -> dict:
    return {
        "conversion": {
            "invert": "auto",
            "background_threshold": 13,
            "sharpen": True,
            **conversion,
        },
        "grid": {"cols": 4, "max_images": 8, "dpi": 50, **(grid or {})},
    }


def _garment(height=300, width=200, box=(30, 40, 240, 120)):
    """A bright T-shirt-like shape on black, ``uint8``: a body and two sleeves.

    ``box`` is the body's top row, left column, height and width.
    """
    top, left, rows, cols = box
    image = np.zeros((height, width), dtype=np.uint8)
    image[top : top + rows, left : left + cols] = 200
    sleeve = rows // 4
    image[top : top + sleeve, max(left - cols // 4, 0) : left] = 230
    image[top : top + sleeve, left + cols : left + cols + cols // 4] = 230
    return image


def _grid(row: pd.Series) -> np.ndarray:
    return row[PIXEL_COLUMNS].to_numpy(dtype=np.uint8).reshape(IMAGE_SHAPE)


def _extent(image: np.ndarray) -> tuple[int, int, int, int]:
    """Top, bottom, left and right margins of the lit pixels."""
    rows, cols = np.nonzero(image)
    return rows.min(), 27 - rows.max(), cols.min(), 27 - cols.max()


def _random_model(seed: int) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return {
        "weight": torch.randn(10, 784, generator=generator) * 0.05,
        "bias": torch.randn(10, generator=generator),
    }


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


def test_bad_parameters_are_named_with_their_dotted_key_and_value():
    with pytest.raises(ValidationError) as raised:
        _params(invert="sometimes", background_threshold=-1)

    message = str(raised.value)
    assert "conversion.invert\n  Input should be 'auto', 'always' or 'never'" in message
    assert "input_value='sometimes'" in message
    assert "conversion.background_threshold\n  Input should be greater than" in message
    assert "input_value=-1" in message


def test_the_folder_and_model_given_on_the_command_line_are_accepted_in_the_group():
    params = InferenceParams.model_validate(
        {
            **_raw(),
            "images_dir": "/home/me/photos",
            "model_uri": "models:/fashion_mnist_scratch/3",
        }
    )

    table = to_fashion_mnist({"x.png": _garment()}, params)

    assert len(table) == 1


def test_predictions_equal_the_evaluations_predict_split_on_the_same_rows():
    table = make_table(n_per_class=3, seed=5)
    model = _random_model(seed=0)
    pixels = table.drop(columns="label")
    pixels.insert(0, "file", [f"{i:02d}.png" for i in range(len(table))])

    predictions = predict_images(model, pixels, NAMES, _params())

    expected = probability_table(model, table_to_arrays(table)[0])
    np.testing.assert_array_equal(predictions["predicted"], expected["predicted"])
    np.testing.assert_array_equal(predictions[PROBAS], expected[PROBAS])


def test_predictions_name_the_class_and_its_probability_per_file():
    pixels = to_fashion_mnist(
        {"a.png": _garment(), "b.png": 255 - _garment()}, _params()
    )

    predictions = predict_images(_random_model(seed=1), pixels, NAMES, _params())

    assert list(predictions.columns) == [
        "file",
        "predicted",
        "predicted_class",
        "probability",
        "warning",
        *PROBAS,
    ]
    assert predictions["file"].tolist() == ["a.png", "b.png"]
    assert predictions["predicted"].dtype == np.int64
    assert predictions["predicted_class"].tolist() == [
        CLASS_NAMES[k] for k in predictions["predicted"]
    ]
    probs = predictions[PROBAS].to_numpy()
    assert probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(predictions["probability"], probs.max(axis=1))


def test_a_model_with_another_number_of_classes_is_refused():
    pixels = to_fashion_mnist({"a.png": _garment()}, _params())

    with pytest.raises(ValueError, match="lists 9 classes but the model has 10"):
        predict_images(
            _random_model(seed=0), pixels, ClassNames(CLASS_NAMES[:9]), _params()
        )


def test_a_model_holding_nan_is_refused():
    model = _random_model(seed=0)
    model["bias"][3] = float("nan")
    pixels = to_fashion_mnist({"a.png": _garment()}, _params())

    with pytest.raises(
        ModelContractError, match=r"bias holds non-finite values \(NaN or inf\)"
    ):
        predict_images(model, pixels, NAMES, _params())


def test_the_grid_shows_each_image_titled_with_its_file_class_and_probability():
    images = {f"photo_{i}.jpg": _garment() for i in range(5)}
    pixels = to_fashion_mnist(images, _params())
    predictions = predict_images(_random_model(seed=2), pixels, NAMES, _params())

    fig = plot_predictions(pixels, predictions, NAMES, _params(grid={"cols": 3}))

    titled = [ax for ax in fig.axes if ax.get_title()]
    assert len(fig.axes) == 6 and len(titled) == 5
    first = predictions.iloc[0]
    assert titled[0].get_title() == (
        f"photo_0.jpg\n{first['predicted_class']} {first['probability']:.0%}"
    )
    assert fig.get_suptitle() == ""


def test_the_grid_shows_at_most_max_images_and_says_how_many_it_left_out():
    images = {f"{i:02d}.png": _garment(60, 40, (5, 10, 50, 20)) for i in range(12)}
    pixels = to_fashion_mnist(images, _params())
    predictions = predict_images(_random_model(seed=2), pixels, NAMES, _params())

    fig = plot_predictions(
        pixels, predictions, NAMES, _params(grid={"cols": 4, "max_images": 8})
    )

    assert sum(bool(ax.get_title()) for ax in fig.axes) == 8
    assert fig.get_suptitle() == "The first 8 of 12 images"


def _block(cols: int) -> np.ndarray:
    """A 28x28 picture lighting 20 rows of ``cols`` columns (kept as it is)."""
    image = np.zeros(IMAGE_SHAPE, dtype=np.uint8)
    image[4:24, 9 : 9 + cols] = 255
    return image


# Lit pixels push class 3 (Dress); an empty picture gets the bias's class 0.
DRESS_MODEL = {
    "weight": torch.zeros(10, 784).index_fill_(0, torch.tensor([3]), 0.02),
    "bias": torch.zeros(10).index_fill_(0, torch.tensor([0]), 1.0),
}
# Dress 84 %, Dress 41 %, T-shirt/top 23 %.
BLOCKS = {"a_bright.png": _block(10), "b_dim.png": _block(5), "c_blank.png": _block(0)}


def test_one_line_sums_up_the_classes_and_names_the_unsure_and_flagged_images(
    caplog,
):
    pixels = to_fashion_mnist(BLOCKS, _params())

    with caplog.at_level(logging.INFO, logger=LOGGER):
        predictions = predict_images(DRESS_MODEL, pixels, NAMES, _params())

    assert predictions["predicted_class"].tolist() == ["Dress", "Dress", "T-shirt/top"]
    assert predictions["warning"].tolist() == ["", "", EMPTY]
    assert caplog.records[-1].message == (
        "Predicted 3 image(s): 2 Dress, 1 T-shirt/top; 2 below "
        "inference.min_confidence = 50% (b_dim.png, c_blank.png); 1 flagged in the "
        "warning column"
    )


def test_the_grid_can_show_the_least_confident_images_first_flagged_in_red():
    pixels = to_fashion_mnist(BLOCKS, _params())
    predictions = predict_images(DRESS_MODEL, pixels, NAMES, _params())

    fig = plot_predictions(
        pixels, predictions, NAMES, _params(grid={"order": "least_confident"})
    )
    few = plot_predictions(
        pixels,
        predictions,
        NAMES,
        _params(grid={"order": "least_confident", "max_images": 2}),
    )

    titles = [ax.title for ax in fig.axes if ax.get_title()]
    assert [t.get_text() for t in titles] == [
        "c_blank.png\nT-shirt/top 23%",
        "b_dim.png\nDress 41%",
        "a_bright.png\nDress 84%",
    ]
    assert [t.get_color() for t in titles] == ["tab:red", "black", "black"]
    assert fig.get_suptitle() == "All 3 images, least confident first"
    assert few.get_suptitle() == "The 2 least confident of 3 images"
    np.testing.assert_array_equal(fig.axes[0].images[0].get_array(), _block(0))


def test_the_grid_refuses_predictions_of_other_files():
    pixels = to_fashion_mnist({"a.png": _garment(), "b.png": _garment()}, _params())
    predictions = predict_images(_random_model(seed=2), pixels, NAMES, _params())

    with pytest.raises(ValueError, match="list different files"):
        plot_predictions(pixels, predictions.iloc[::-1], NAMES, _params())
