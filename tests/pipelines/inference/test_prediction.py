"""Predicting the converted pictures' classes with a model, and refusing bad models."""

import numpy as np
import pytest

from fashion_mnist.params import ClassNames
from fashion_mnist.pipelines.inference.nodes import predict_images, to_fashion_mnist
from fashion_mnist.schemas import ModelContractError, table_to_arrays
from fashion_mnist.softmax import probability_table
from tests.pipelines.inference.inputs import NAMES, _garment, _params
from tests.support.synthetic import CLASS_NAMES, make_table
from tests.support.synthetic import random_model as _random_model

PROBAS = [f"proba_{k}" for k in range(10)]


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
