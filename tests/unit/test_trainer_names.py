"""A run's name becomes the Keras model's name: TensorFlow accepts only some characters there."""

import pytest

from webapp.runs.trainer import _model_name


@pytest.mark.parametrize("name, model", [
    ("mnist-cnn", "mnist_cnn"), ("<img src=x>", "img_src_x"), ("(test) run", "test__run"),
    ("ä-net", "net"), ("", "sequential"), ("___", "sequential"), ("a" * 80, "a" * 60),
])
def test_model_names_are_ones_tensorflow_accepts(name, model):
    assert _model_name(name) == model
