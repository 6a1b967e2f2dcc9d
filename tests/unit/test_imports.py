"""Importing models: Keras JSON and pasted Python become a canonical spec; nothing is ever run."""

import json
import textwrap

import pytest

from webapp.modelspec.importers.imports import MAX_SOURCE, import_source
from webapp.modelspec.validate import SpecError, validate

# keras.io/examples/vision/mnist_convnet, as published (data loading and all).
MNIST_CONVNET = '''
"""
Title: Simple MNIST convnet
Author: [fchollet](https://twitter.com/fchollet)
"""

import numpy as np
import keras
from keras import layers

# Model / data parameters
num_classes = 10
input_shape = (28, 28, 1)

# Load the data and split it between train and test sets
(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()

# Scale images to the [0, 1] range
x_train = x_train.astype("float32") / 255
x_test = x_test.astype("float32") / 255
# Make sure images have shape (28, 28, 1)
x_train = np.expand_dims(x_train, -1)
x_test = np.expand_dims(x_test, -1)
print("x_train shape:", x_train.shape)
print(x_train.shape[0], "train samples")
print(x_test.shape[0], "test samples")


# convert class vectors to binary class matrices
y_train = keras.utils.to_categorical(y_train, num_classes)
y_test = keras.utils.to_categorical(y_test, num_classes)

model = keras.Sequential(
    [
        keras.Input(shape=input_shape),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(num_classes, activation="softmax"),
    ]
)

model.summary()

batch_size = 128
epochs = 15

model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])

model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, validation_split=0.1)

score = model.evaluate(x_test, y_test, verbose=0)
print("Test loss:", score[0])
print("Test accuracy:", score[1])
'''


def py(source):
    return import_source("python", textwrap.dedent(source))


def refused(fmt, source):
    with pytest.raises(SpecError) as info:
        import_source(fmt, textwrap.dedent(source) if fmt == "python" else source)
    return [e.to_dict() for e in info.value.errors]


def canonical(layers):
    return validate({"dataset": "x", "model": {"layers": layers}}).layers


# ---- Python ----------------------------------------------------------------------------------

def test_mnist_convnet_example_imports_cleanly():
    out = py(MNIST_CONVNET)
    assert out["model"]["layers"] == canonical([
        {"type": "Conv2D", "filters": 32, "kernel_size": [3, 3], "activation": "relu"},
        {"type": "MaxPooling2D", "pool_size": [2, 2]},
        {"type": "Conv2D", "filters": 64, "kernel_size": [3, 3], "activation": "relu"},
        {"type": "MaxPooling2D", "pool_size": [2, 2]},
        {"type": "Flatten"},
        {"type": "Dropout", "rate": 0.5},
        {"type": "Dense", "units": 10, "activation": "softmax"},
    ])
    assert out["compile"]["optimizer"]["type"] == "Adam"
    assert out["compile"]["loss"] == "categorical_crossentropy" and out["compile"]["metrics"] == ["accuracy"]
    assert (out["fit"]["epochs"], out["fit"]["batch_size"], out["fit"]["validation"]) == (15, 128, 0.1)
    line = MNIST_CONVNET.splitlines().index("        keras.Input(shape=input_shape),") + 1
    assert out["warnings"] == [f"line {line}: input shape (28, 28, 1) ignored: the dataset gives the input shape"]


def test_model_add_style_with_bare_names_and_objects():
    out = py('''
        import tensorflow as tf
        from tensorflow.keras.models import Sequential
        from tensorflow.keras.layers import Dense, Dropout, Flatten
        from tensorflow.keras import optimizers, losses

        hidden = 64 * 2
        rate = 1 / 4
        opt = optimizers.SGD(0.05, momentum=0.9, nesterov=True)

        model = Sequential()
        model.add(Flatten(input_shape=(8, 8, 1)))
        model.add(Dense(hidden, activation=tf.nn.relu))
        model.add(tf.keras.layers.Dropout(rate))
        model.add(Dense(units=10, activation="softmax", kernel_initializer="glorot_uniform", name="out"))
        model.compile(optimizer=opt, loss=losses.CategoricalCrossentropy(), metrics=["acc"])
        history = model.fit(x, y, 32, 7, validation_data=(x_val, y_val), shuffle=False)
    ''')
    assert [l["type"] for l in out["model"]["layers"]] == ["Flatten", "Dense", "Dropout", "Dense"]
    assert out["model"]["layers"][1]["units"] == 128 and out["model"]["layers"][1]["activation"] == "relu"
    assert out["model"]["layers"][2]["rate"] == 0.25
    assert out["compile"] == {"optimizer": {"type": "SGD", "learning_rate": 0.05, "momentum": 0.9,
                                            "nesterov": True, "clipnorm": None},
                              "loss": "categorical_crossentropy", "metrics": ["accuracy"]}
    assert out["fit"]["epochs"] == 7 and out["fit"]["batch_size"] == 32
    assert out["fit"]["validation"] == "test" and out["fit"]["shuffle"] is False
    assert out["warnings"] == ["line 12: input shape (8, 8, 1) ignored: the dataset gives the input shape"]


def test_keras_defaults_fill_what_the_script_leaves_out():
    out = py('''
        import keras
        model = keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")])
        model.compile(loss=keras.losses.sparse_categorical_crossentropy)
        model.fit(x, y, callbacks=[keras.callbacks.EarlyStopping(monitor="loss"), keras.callbacks.TerminateOnNaN()])
    ''')
    assert out["compile"]["optimizer"]["type"] == "RMSprop"       # compile()'s default
    assert out["compile"]["loss"] == "sparse_categorical_crossentropy"
    assert out["fit"]["epochs"] == 1 and out["fit"]["validation"] == "none"   # fit()'s defaults
    stop = out["fit"]["callbacks"]["early_stopping"]
    assert stop == {"monitor": "loss", "patience": 0, "min_delta": 0.0, "mode": "auto",
                    "restore_best_weights": False}
    assert out["warnings"] == []


def test_argparse_defaults_and_main_guard_are_read():
    out = py('''
        import argparse
        import keras
        from keras import layers

        parser = argparse.ArgumentParser()
        parser.add_argument("--epochs", type=int, default=12)
        parser.add_argument("--batch-size", type=int, default=256)
        args = parser.parse_args()

        if __name__ == "__main__":
            model = keras.Sequential([layers.Flatten(), layers.Dense(10, activation="softmax")])
            model.compile(optimizer=keras.optimizers.Adam(learning_rate=3e-4), loss="categorical_crossentropy")
            model.fit(x, y, epochs=args.epochs, batch_size=args.batch_size)
    ''')
    assert (out["fit"]["epochs"], out["fit"]["batch_size"]) == (12, 256)
    assert out["compile"]["optimizer"]["learning_rate"] == 3e-4


def test_what_cannot_be_read_is_a_warning_naming_the_line():
    out = py('''
        import sys
        import keras
        from keras import layers
        units = int(sys.argv[1])
        model = keras.Sequential([layers.Flatten()])
        model.add(layers.Dense(units, activation="relu"))
        for width in load_widths():
            model.add(layers.Dense(width))
        model.add(make_block())
        model.add(layers.Dense(10, activation="softmax", kernel_regularizer=keras.regularizers.l2(0.01)))
        model.compile(optimizer=build_optimizer(), loss="categorical_crossentropy", metrics=[f1_score])
        model.fit(x, y, epochs=len(schedule), callbacks=[keras.callbacks.TensorBoard()])
    ''')
    assert [l["type"] for l in out["model"]["layers"]] == ["Flatten", "Dense", "Dense"]
    assert out["model"]["layers"][1]["units"] == 32   # the builder's suggestion, said in the warning
    warnings = "\n".join(out["warnings"])
    assert ("line 7: Dense: units = int(sys.argv[1]) (from line 5) cannot be read without running the script; "
            "32 (the builder's suggestion; check it) is used") in warnings
    assert "line 8: a for loop that calls model.add is not read" in warnings
    assert "line 10: layer make_block() cannot be read" in warnings
    assert "line 11: Dense: kernel_regularizer = keras.regularizers.l2(0.01) is not part of the spec" in warnings
    assert "line 12: optimizer = build_optimizer() cannot be read" in warnings
    assert "line 12: metric f1_score cannot be read" in warnings
    assert "line 13: fit: epochs = len(schedule) cannot be read" in warnings
    assert "line 13: callback keras.callbacks.TensorBoard() is not part of the spec" in warnings
    assert out["fit"]["epochs"] == 1


def test_bidirectional_and_positional_arguments():
    out = py('''
        from keras import layers, Sequential
        model = Sequential([
            layers.Reshape((8, 8)),
            layers.Bidirectional(layers.LSTM(16, return_sequences=True), merge_mode="sum"),
            layers.Conv1D(8, 3, 2, "same"),
            layers.GlobalMaxPooling1D(),
            layers.Dense(10, "softmax"),
        ])
    ''')
    bi, conv = out["model"]["layers"][1], out["model"]["layers"][2]
    assert bi["layer"]["type"] == "LSTM" and bi["layer"]["units"] == 16 and bi["layer"]["return_sequences"]
    assert bi["merge_mode"] == "sum"
    assert (conv["filters"], conv["kernel_size"], conv["strides"], conv["padding"]) == (8, 3, 2, "same")
    assert out["model"]["layers"][4]["activation"] == "softmax"
    assert out["compile"] is None and out["fit"] is None


def test_lambda_layer_is_refused_with_its_line_and_index():
    errors = refused("python", '''
        import keras
        model = keras.Sequential([
            keras.layers.Flatten(),
            keras.layers.Lambda(lambda x: x * 2),
        ])
    ''')
    assert errors[0]["layer"] == 1 and errors[0]["field"] == "type"
    assert errors[0]["message"].startswith("Line 5: layer 1 is a Lambda layer")


@pytest.mark.parametrize("line, why", [
    ("layers.Conv1DTranspose(8, 3)", "layers.Conv1DTranspose is not an allowed layer"),
    ("MyBlock(32)", "MyBlock is not an allowed layer"),
    ("mylib.layers.Dense(3)", "mylib.layers.Dense is not an allowed layer"),
])
def test_unknown_and_custom_layers_are_refused(line, why):
    errors = refused("python", f"import keras\nfrom keras import layers\nmodel = keras.Sequential([{line}])\n")
    assert errors[0]["layer"] == 0 and why in errors[0]["message"]


def test_validation_errors_name_the_line():
    errors = refused("python", '''
        import keras
        model = keras.Sequential()
        model.add(keras.layers.Dense(10, activation="softmax"))
        model.add(keras.layers.Dropout(1.5))
        model.compile(optimizer="adam", loss="hinge_of_doom")
    ''')
    assert {(e["layer"], e["field"]) for e in errors} == {(1, "rate"), (None, "compile.loss")}
    assert all(e["message"].startswith(("Line 5: ", "Line 6: ")) for e in errors)


@pytest.mark.parametrize("source, text", [
    ("model = keras.Sequential([\n  layers.Dense(3)\n", "Line 1: Python syntax error"),
    ("import keras\nx = 1\n", "No keras.Sequential model was found"),
    ("import keras\nmodel = keras.Model(make_inputs(), make_outputs())\n",
     "Line 2: keras.Model(...) cannot be followed"),
    ("import keras\ndef build():\n    return keras.Sequential([keras.layers.Dense(3)])\n",
     "line 2: a function that builds a model is not read (it is never called at the top level)"),
])
def test_scripts_without_a_readable_sequential_model(source, text):
    errors = refused("python", source)
    assert errors[0]["field"] == "source" and text in errors[0]["message"]


def test_nothing_in_the_script_is_ever_run(tmp_path):
    marker = tmp_path / "ran"
    out = py(f'''
        import keras
        open({str(marker)!r}, "w").write("ran")
        __import__("os").system("touch {marker}")
        units = exec("x = 1") or eval("3")
        model = keras.Sequential([keras.layers.Dense(units, activation=print("hi"))])
    ''')
    assert not marker.exists()
    assert out["model"]["layers"][0]["units"] == 32
    assert any(w.startswith("line 6: Dense: units = exec(") for w in out["warnings"])


def test_huge_arithmetic_is_not_evaluated():
    out = py("import keras\nn = 10 ** 10 ** 10\nm = 9 ** 60 * 9 ** 60\n"
             "model = keras.Sequential([keras.layers.Dense(n), keras.layers.Dense(m)])\n")
    assert [l["units"] for l in out["model"]["layers"]] == [32, 32]


# ---- Keras JSON ------------------------------------------------------------------------------

def keras_layer(kind, module="keras.layers", registered=None, **config):
    return {"module": module, "class_name": kind, "config": {"name": kind.lower(), "trainable": True, **config},
            "registered_name": registered}


def keras_model(*layers, compile_config=None, kind="Sequential"):
    data = {"module": "keras", "class_name": kind, "registered_name": None,
            "config": {"name": "sequential", "trainable": True, "layers": list(layers)}}
    if compile_config:
        data["compile_config"] = compile_config
    return json.dumps(data)


def test_keras_json_layers_compile_and_notes():
    source = keras_model(
        keras_layer("InputLayer", batch_shape=[None, 8, 8, 1], dtype="float32"),
        keras_layer("Conv2D", filters=8, kernel_size=[3, 3], strides=[1, 1], padding="same", data_format="channels_last",
                    dilation_rate=[1, 1], groups=1, activation="relu", use_bias=True,
                    kernel_initializer={"module": "keras.initializers", "class_name": "HeNormal", "config": {}},
                    kernel_regularizer=None),
        keras_layer("MaxPooling2D", pool_size=[2, 2], strides=[2, 2], padding="valid"),
        keras_layer("Flatten"),
        keras_layer("Dense", units=10, activation={"module": "keras.activations", "class_name": "function",
                                                   "config": "softmax", "registered_name": "softmax"},
                    kernel_regularizer={"module": "keras.regularizers", "class_name": "L2", "config": {"l2": 0.01}}),
        compile_config={"optimizer": {"module": "keras.optimizers", "class_name": "Adam",
                                      "config": {"name": "adam", "learning_rate": 0.0010000000474974513,
                                                 "use_ema": False, "beta_1": 0.9}},
                        "loss": {"module": "keras.losses", "class_name": "CategoricalCrossentropy",
                                 "config": {"from_logits": False}},
                        "metrics": [{"module": "keras.metrics", "class_name": "CategoricalAccuracy", "config": {}}]})
    out = import_source("keras_json", source)
    assert out["model"]["layers"] == canonical([
        {"type": "Conv2D", "filters": 8, "kernel_size": [3, 3], "padding": "same", "activation": "relu"},
        {"type": "MaxPooling2D", "pool_size": [2, 2]},
        {"type": "Flatten"},
        {"type": "Dense", "units": 10, "activation": "softmax"},
    ])
    assert out["compile"]["optimizer"]["learning_rate"] == 0.001   # float32 read back as typed
    assert out["compile"]["loss"] == "categorical_crossentropy" and out["compile"]["metrics"] == ["accuracy"]
    assert out["fit"] is None
    assert out["warnings"][0] == "input shape (8, 8, 1) ignored: the dataset gives the input shape"
    assert "layer 0 (Conv2D): kernel_initializer = HeNormal is not part of the spec; ignored" in out["warnings"]
    assert "layer 3 (Dense): kernel_regularizer = L2 is not part of the spec; ignored" in out["warnings"]
    assert len(out["warnings"]) == 4   # the fourth: CategoricalAccuracy is read as accuracy


@pytest.mark.parametrize("layer, text", [
    (keras_layer("Lambda", function={"class_name": "__lambda__", "config": {"code": "4wEAAAA"}}),
     "Layer 1 is a Lambda layer: it holds Python code"),
    (keras_layer("TFOpLambda", function="math.add"), "Layer 1 is a TFOpLambda layer"),
    (keras_layer("MyDense", module="my_package.layers", units=3), "custom object from module 'my_package.layers'"),
    (keras_layer("Dense", registered="Custom>Dense", units=3), "custom object registered as 'Custom>Dense'"),
    (keras_layer("Conv1DTranspose", filters=3), "Layer 1: Conv1DTranspose is not an allowed layer"),
    (keras_layer("Dense", units=3, activation={"module": "builtins", "class_name": "function", "config": "my_act"}),
     "activation is function, not a built-in activation"),
])
def test_keras_json_refusals_name_the_layer(layer, text):
    errors = refused("keras_json", keras_model(keras_layer("InputLayer", batch_shape=[None, 4]),
                                               keras_layer("Flatten"), layer))
    assert errors[0]["layer"] == 1 and text in errors[0]["message"]


@pytest.mark.parametrize("source, text", [
    ("{not json", "not valid JSON (line 1, column 2)"),
    ("[1, 2]", "not a Keras model"),
    (keras_model(kind="Functional"), "The functional model has no input_layers list"),
    (keras_model(kind="TextVectorization"), "Only Sequential and functional models can be imported"),
    ("[" * 100_000 + "]" * 100_000, "not valid JSON"),
])
def test_keras_json_that_is_not_a_sequential_model(source, text):
    errors = refused("keras_json", source)
    assert errors[0]["field"] == "source" and text in errors[0]["message"]


def test_keras2_json_with_the_input_shape_on_the_first_layer():
    source = json.dumps({"class_name": "Sequential", "keras_version": "2.15.0", "config": {"layers": [
        {"class_name": "Dense", "config": {"units": 10, "activation": "softmax", "batch_input_shape": [None, 64]}}]}})
    out = import_source("keras_json", source)
    assert out["model"]["layers"][0]["units"] == 10
    assert out["warnings"] == ["input shape (64,) ignored: the dataset gives the input shape"]


@pytest.mark.parametrize("fmt, source, field", [
    ("yaml", "x", "format"), ("python", "", "source"), ("python", None, "source"),
    ("keras_json", "x" * (MAX_SOURCE + 1), "source"),
])
def test_bad_requests(fmt, source, field):
    with pytest.raises(SpecError) as info:
        import_source(fmt, source)
    assert info.value.errors[0].field == field


def test_compile_without_a_loss_is_left_out_with_a_warning():
    out = py('''
        import keras
        model = keras.Sequential([keras.layers.Dense(10)])
        model.compile(optimizer="adam")
    ''')
    assert out["compile"] is None
    assert out["warnings"] == ["line 4: compile has no loss that can be read, so compile is left out; "
                               "choose a loss in the builder"]
    out = import_source("keras_json", keras_model(keras_layer("Dense", units=3),
                                                  compile_config={"optimizer": "adam", "loss": None}))
    assert out["compile"] is None and "compile has no loss" in out["warnings"][0]


def test_with_blocks_are_followed_and_nested_models_are_skipped():
    out = py('''
        import keras
        strategy = keras.distribution.DataParallel()
        with strategy.scope():
            base = keras.Sequential([keras.layers.Dense(4)])
            model = keras.Sequential([base, keras.layers.Dense(10, activation="softmax")])
            model.compile(optimizer=keras.optimizers.Adam(lr=0.01), loss="mse")
        model.fit(x, y, epochs=2)
    ''')
    assert out["model"]["layers"] == canonical([{"type": "Dense", "units": 10, "activation": "softmax"}])
    assert out["compile"]["optimizer"]["learning_rate"] == 0.01 and out["compile"]["loss"] == "mean_squared_error"
    assert out["fit"]["epochs"] == 2
    assert out["warnings"] == [
        "line 5: another Sequential model is ignored; the one on line 6 is imported",
        "line 6: the Sequential model of line 5 used as a layer is not part of the spec; skipped",
    ]
    assert {"line": 7, "was": "lr=0.01", "now": "learning_rate=0.01", "field": "compile.optimizer.learning_rate",
            "why": "Keras 2's lr is Keras 3's learning_rate; its value is kept"} in out["notes"]


def test_keras1_json_is_read_with_a_note_for_each_old_name():
    source = json.dumps({"class_name": "Sequential", "config": [
        {"class_name": "Convolution2D", "config": {
            "name": "convolution2d_1", "nb_filter": 32, "nb_row": 3, "nb_col": 3, "init": "glorot_uniform",
            "activation": "relu", "border_mode": "same", "subsample": [1, 1], "dim_ordering": "tf", "bias": True,
            "W_regularizer": None, "batch_input_shape": [None, 28, 28, 1], "input_dtype": "float32"}},
        {"class_name": "Dropout", "config": {"name": "dropout_1", "p": 0.25}},
        {"class_name": "Flatten", "config": {"name": "flatten_1"}},
        {"class_name": "Dense", "config": {"name": "dense_1", "output_dim": 10, "init": "glorot_uniform",
                                           "activation": "softmax", "bias": True, "input_dim": None}},
    ]})
    out = import_source("keras_json", source)
    assert out["model"]["layers"] == canonical([
        {"type": "Conv2D", "filters": 32, "kernel_size": [3, 3], "activation": "relu", "padding": "same"},
        {"type": "Dropout", "rate": 0.25}, {"type": "Flatten"},
        {"type": "Dense", "units": 10, "activation": "softmax"},
    ])
    changes = {(n.get("layer"), n["was"], n["now"]) for n in out["notes"]}
    assert {(0, "Convolution2D", "Conv2D"), (0, "nb_filter=32", "filters=32"), (0, 'border_mode="same"', 'padding="same"'),
            (0, "nb_row=3, nb_col=3", "kernel_size=(3, 3)"), (1, "p=0.25", "rate=0.25"),
            (3, "output_dim=10", "units=10"), (None, "config: [layers]", 'config: {"layers": [...]}')} <= changes
    assert out["warnings"] == ["input shape (28, 28, 1) ignored: the dataset gives the input shape"]
