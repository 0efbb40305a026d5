"""Showing the predictions: the grid of titled pictures and the one-line summary."""

import logging

import numpy as np
import pytest
import torch

from fashion_mnist.pipelines.inference.conversion import EMPTY
from fashion_mnist.pipelines.inference.nodes import (
    plot_predictions,
    predict_images,
    to_fashion_mnist,
)
from fashion_mnist.schemas import IMAGE_SHAPE
from tests.pipelines.inference.inputs import (
    LOGGER,
    NAMES,
    _garment,
    _params,
)
from tests.support.synthetic import random_model as _random_model


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
