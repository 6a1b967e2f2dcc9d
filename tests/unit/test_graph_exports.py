"""Functional models out and in: Keras-written JSON imports with the same count_params, train.py runs."""

import json
import os
import subprocess
import sys

import pytest

from tests.specs import CNN, spec
from webapp.datasets import BUILTIN, describe
from webapp.modelspec import build
from webapp.modelspec.exporters import keras_json, train_script
from webapp.modelspec.importers.imports import import_source
from webapp.modelspec.validate import SpecError, validate

pytestmark = pytest.mark.keras
DIGITS = describe("digits", BUILTIN["digits"])
COMPILE = {"optimizer": "adam", "loss": "categorical_crossentropy", "metrics": ["accuracy"]}


def residual(keras, x):
    shortcut = x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(x)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.add([x, shortcut])
    return keras.layers.GlobalAveragePooling2D()(x)


def inception(keras, x):
    a = keras.layers.Conv2D(4, 1, activation="relu")(x)
    b = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(x)
    c = keras.layers.MaxPooling2D(3, strides=1, padding="same")(x)
    c = keras.layers.Conv2D(4, 1)(c)
    x = keras.layers.concatenate([a, b, c])
    return keras.layers.Flatten()(x)


def u_shaped(keras, x):
    skip = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(x)
    x = keras.layers.MaxPooling2D(2)(skip)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(x)
    x = keras.layers.UpSampling2D(2)(x)
    x = keras.layers.Concatenate()([x, skip])
    x = keras.layers.Conv2D(4, 3, padding="same")(x)
    return keras.layers.GlobalAveragePooling2D()(x)


BODIES = {"residual": residual, "inception": inception, "u_shaped": u_shaped}


def functional(body):
    keras = build.init_keras()
    inputs = keras.Input((8, 8, 1))
    outputs = keras.layers.Dense(10, activation="softmax")(body(keras, inputs))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def as_keras2(text):
    """Give Keras 3 JSON rewritten in Keras 2's functional form: class_name Model, nodes as lists."""
    data = json.loads(text)
    data["class_name"] = "Model"
    for layer in data["config"]["layers"]:
        layer["inbound_nodes"] = [[[*t["config"]["keras_history"], {}] for t in _tensors(node["args"])]
                                  for node in layer["inbound_nodes"]]
    data["config"]["input_layers"] = [data["config"]["input_layers"]]
    return json.dumps(data)


def _tensors(args):
    out = []
    for a in args:
        out += _tensors(a) if isinstance(a, list) else [a]
    return out


def imported_spec(source):
    back = import_source("keras_json", source)
    return validate(spec(CNN, model=back["model"], compile=back["compile"], fit={"epochs": 1, "batch_size": 64}),
                    require_run=True)


@pytest.mark.parametrize("name", BODIES)
def test_keras_json_of_a_functional_model_round_trips_with_the_same_params(name):
    model = functional(BODIES[name])
    for source in (model.to_json(), as_keras2(model.to_json())):
        checked = imported_spec(source)
        assert checked.is_graph
        assert [layer["name"] for layer in checked.layers] == [layer.name for layer in model.layers[1:]]
        rebuilt = build.build_model(checked, [8, 8, 1])
        assert rebuilt.count_params() == model.count_params()
        summary = build.summarize(checked, DIGITS)
        assert summary["total_params"] == model.count_params()
        assert [r["params"] for r in summary["layers"]] == [layer.count_params() for layer in model.layers[1:]]
        again = json.loads(keras_json.keras_json(checked, [8, 8, 1]))
        assert again["class_name"] == "Functional"


def refusal(model):
    with pytest.raises(SpecError) as info:
        import_source("keras_json", model.to_json())
    return info.value.errors[0]


def test_functional_json_with_what_the_spec_cannot_hold_is_refused_naming_the_layer():
    keras = build.init_keras()
    a, b = keras.Input((4,)), keras.Input((4,))
    two_inputs = keras.Model([a, b], keras.layers.Dense(2)(keras.layers.add([a, b])))
    assert "2 inputs" in refusal(two_inputs).message
    two_outputs = keras.Model(a, [keras.layers.Dense(2)(a), keras.layers.Dense(3)(a)])
    assert "2 outputs" in refusal(two_outputs).message
    shared = keras.layers.Dense(4, name="shared")
    reused = keras.Model(a, keras.layers.Dense(2)(shared(shared(a))))
    error = refusal(reused)
    assert error.field == "inputs" and "shared" in error.message and "shared layer" in error.message
    inner = keras.Sequential([keras.layers.Dense(4)], name="block")
    nested = keras.Model(a, keras.layers.Dense(2)(inner(a)))
    error = refusal(nested)
    assert error.layer == 0 and "block" in error.message and "nested model" in error.message


def test_exported_train_py_of_each_functional_model_runs(tmp_path):
    runner = ["import os, runpy, sys"]
    for name, body in BODIES.items():
        checked = imported_spec(functional(body).to_json())
        script = train_script.python_script(checked, DIGITS)
        assert "keras.Model(inputs, " in script
        (tmp_path / name).mkdir()
        (tmp_path / name / "train.py").write_text(script)
        runner += [f"os.chdir({str(tmp_path / name)!r})", "sys.argv = ['train.py', '--epochs', '1']",
                   "runpy.run_path('train.py', run_name='__main__')"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, "-c", "\n".join(runner)], env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("Test accuracy from the predictions:") == 3
    model = build.init_keras().saving.load_model(tmp_path / "u_shaped" / "model.keras")
    assert model.count_params() == functional(u_shaped).count_params()
