"""The inference parameters: what they accept and how they name what they refuse."""

import pytest
from pydantic import ValidationError

from fashion_mnist.params import InferenceParams
from fashion_mnist.pipelines.inference.nodes import to_fashion_mnist
from tests.pipelines.inference.inputs import _garment, _params, _raw


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
