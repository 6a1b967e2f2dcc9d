"""Pasted Python in the functional style -> a graph spec; what the spec cannot hold is refused by line."""

import pytest

from tests.specs import BRANCHES, RESIDUAL
from webapp.datasets import BUILTIN, describe
from webapp.modelspec.exporters import train_script
from webapp.modelspec.importers.imports import import_source
from webapp.modelspec.validate import SpecError, validate

HEAD = "import keras\nfrom keras import layers\n"
RESNET = HEAD + '''
def block(x, filters):
    shortcut = x
    x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
    x = layers.Conv2D(filters, 3, padding="same")(x)
    x = layers.add([x, shortcut])
    return layers.Activation("relu")(x)

inputs = keras.Input(shape=(8, 8, 1))
x = layers.Conv2D(16, 3, padding="same", name="stem")(inputs)
x = block(x, 16)
x = block(x, 16)
a = layers.Conv2D(8, 1)(x)
b = layers.MaxPooling2D(3, strides=1, padding="same")(x)
x = layers.concatenate([a, b], axis=-1)
x = layers.GlobalAveragePooling2D()(x)
outputs = layers.Dense(10, activation="softmax")(x)
model = keras.Model(inputs=inputs, outputs=outputs)
model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
model.fit(x_train, y_train, epochs=2, batch_size=32)
'''


def test_a_functional_script_with_a_block_function_imports_as_a_graph():
    out = import_source("python", RESNET)
    wiring = [(layer["name"], layer["type"], layer["inputs"]) for layer in out["model"]["layers"]]
    assert wiring == [
        ("stem", "Conv2D", ["input"]), ("conv2d", "Conv2D", ["stem"]), ("conv2d_1", "Conv2D", ["conv2d"]),
        ("add", "Add", ["conv2d_1", "stem"]), ("activation", "Activation", ["add"]),
        ("conv2d_2", "Conv2D", ["activation"]), ("conv2d_3", "Conv2D", ["conv2d_2"]),
        ("add_1", "Add", ["conv2d_3", "activation"]), ("activation_1", "Activation", ["add_1"]),
        ("conv2d_4", "Conv2D", ["activation_1"]), ("max_pooling2d", "MaxPooling2D", ["activation_1"]),
        ("concatenate", "Concatenate", ["conv2d_4", "max_pooling2d"]),
        ("global_average_pooling2d", "GlobalAveragePooling2D", ["concatenate"]),
        ("dense", "Dense", ["global_average_pooling2d"])]
    assert out["model"]["layers"][0]["filters"] == 16 and out["fit"]["epochs"] == 2
    assert out["compile"]["loss"] == "categorical_crossentropy"
    assert out["warnings"] == ["line 11: input shape (8, 8, 1) ignored: the dataset gives the input shape"]


@pytest.mark.parametrize("data", [RESIDUAL, BRANCHES], ids=["residual", "branches"])
def test_the_exported_functional_train_py_imports_back_to_the_same_graph(data):
    checked = validate(data, require_run=True)
    source = train_script.python_script(checked, describe("digits", BUILTIN["digits"]))
    back = import_source("python", source)
    assert back["model"]["layers"] == checked.layers
    assert back["compile"] == checked.compile


@pytest.mark.parametrize("body, words", [
    ("a = keras.Input((4,))\nb = keras.Input((4,))\nm = keras.Model([a, b], layers.Dense(2)(layers.add([a, b])))\n",
     "Line 5: keras.Model(...) has 2 inputs"),
    ("a = keras.Input((4,))\nm = keras.Model(a, [layers.Dense(2)(a), layers.Dense(3)(a)])\n",
     "Line 4: keras.Model(...) has 2 outputs"),
    ("a = keras.Input((4,))\nd = layers.Dense(4)\nm = keras.Model(a, layers.Dense(2)(d(d(a))))\n",
     "Line 5: the layer layers.Dense(4) made on line 4 is called again"),
    ("i = keras.Input((4,))\ninner = keras.Model(i, layers.Dense(4)(i))\na = keras.Input((4,))\n"
     "m = keras.Model(a, layers.Dense(2)(inner(a)))\n",
     "Line 6: the functional model of line 4 is called as a layer (a nested model)"),
    ("inner = keras.Sequential([layers.Dense(4)])\na = keras.Input((4,))\n"
     "m = keras.Model(a, layers.Dense(2)(inner(inner(a))))\n", "Line 5: the model of line 3 is called again"),
])
def test_what_the_spec_cannot_hold_is_refused_with_the_line(body, words):
    with pytest.raises(SpecError) as info:
        import_source("python", HEAD + body)
    assert info.value.errors[0].message.startswith(words), info.value.errors[0].message
