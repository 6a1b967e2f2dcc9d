"""Keras Tuner scripts imported as a sweep: the spec takes each hp's default, the space its range, the tuner the rest.

The fixtures (tests/fixtures/keras_tuner_scripts/) are written for this project in the idioms of
Keras Tuner's guides: a model-building function, a HyperModel subclass tuning fit, each tuner.
"""

import ast
import gc
import pathlib
import textwrap

import pytest

from webapp.modelspec.exporters.sweep_script import sweep_script
from webapp.modelspec.importers.imports import import_source
from webapp.modelspec.validate import SpecError

HERE = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "keras_tuner_scripts"
DIGITS = {"id": "digits", "name": "digits", "input_shape": [8, 8, 1], "num_classes": 10, "source": "builtin"}


def imported(name):
    return import_source("python", (HERE / f"{name}.py").read_text())


def shape(answer):
    """Give each layer as (type, the settings a test looks at)."""
    keys = ("units", "filters", "kernel_size", "rate", "activation")
    return [(layer["type"], {k: layer[k] for k in keys if k in layer}) for layer in answer["model"]["layers"]]


def notes(answer, field):
    return [n for n in answer["notes"] if n.get("field") == field]


def test_random_search_of_the_guide_imports_as_a_random_sweep():
    out = imported("random_search_guide")
    assert shape(out) == [("Flatten", {}), ("Dense", {"units": 32, "activation": "relu"}),
                          ("Dense", {"units": 10, "activation": "softmax"})]   # no Dropout: hp.Boolean's default
    assert out["compile"]["optimizer"]["learning_rate"] == 1e-4
    assert (out["fit"]["epochs"], out["fit"]["validation"]) == (5, "test")
    assert out["sweep"] == {
        "space": {"model.layers.1.units": {"type": "int", "low": 32, "high": 512, "step": 32},
                  "model.layers.1.activation": {"type": "categorical", "choices": ["relu", "tanh"]},
                  "compile.optimizer.learning_rate": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True}},
        "objective": {"metric": "val_accuracy", "direction": "maximize"},
        "trials": 10, "sampler": "random", "pruner": "none"}
    [tuner] = notes(out, "sweep")
    assert (tuner["line"], tuner["was"], tuner["now"]) == (34, "keras_tuner.RandomSearch(max_trials=10)",
                                                           "a sweep of 10 trials, sampler random")
    [units] = [n for n in out["notes"] if n.get("layer") == 1 and n.get("field") == "units"]
    assert units["line"] == 14 and units["now"] == "32, searched 32..512 step 32"
    assert out["warnings"] == ["line 19: hp.Boolean('dropout') decides an if, which a sweep over one spec cannot "
                               "search; its default False is used"]


def test_bayesian_convnet_places_loop_made_layers_a_reused_name_and_the_optimizer_type():
    out = imported("bayesian_convnet")
    conv = ("Conv2D", {"filters": 16, "kernel_size": [3, 3], "activation": "relu"})
    assert shape(out) == [conv, ("MaxPooling2D", {}), conv, ("MaxPooling2D", {}), ("Flatten", {}),
                          ("Dropout", {"rate": 0.25}), ("Dense", {"units": 64, "activation": "relu"}),
                          ("Dense", {"units": 64, "activation": "relu"}), ("Dense", {"units": 10, "activation": "softmax"})]
    assert out["compile"]["optimizer"]["type"] == "Adam"
    sweep = out["sweep"]
    filters, units = {"type": "int", "low": 16, "high": 64, "step": 16}, {"type": "categorical", "choices": [64, 128, 256]}
    assert sweep["space"] == {
        "model.layers.0.filters": filters, "model.layers.0.kernel_size": {"type": "categorical", "choices": [3, 5]},
        "model.layers.2.filters": filters, "model.layers.2.kernel_size": {"type": "categorical", "choices": [3, 5]},
        "model.layers.5.rate": {"type": "float", "low": 0.0, "high": 0.5, "step": 0.1},
        "model.layers.6.units": units, "model.layers.7.units": units,   # one hp name, both places
        "compile.optimizer.type": {"type": "categorical", "choices": ["Adam", "RMSprop"]}}
    assert sweep["objective"] == {"metric": "val_loss", "direction": "minimize"}
    assert (sweep["trials"], sweep["sampler"], sweep["pruner"]) == (20, "tpe", "none")
    assert (out["fit"]["epochs"], out["fit"]["batch_size"], out["fit"]["validation"]) == (8, 128, 0.1)
    assert out["fit"]["callbacks"]["early_stopping"]["patience"] == 2
    assert "hp.Int('conv_blocks') sets the bounds of a range()" in " ".join(out["warnings"])
    assert "used at model.layers.6.units too" in [n for n in notes(out, "units") if n.get("layer") == 7][0]["why"]


def test_hyperband_over_a_hypermodel_tunes_fit_and_trains_max_epochs():
    out = imported("hyperband_hypermodel")
    assert out["compile"]["optimizer"]["type"] == "SGD"
    assert (out["compile"]["optimizer"]["learning_rate"], out["compile"]["optimizer"]["momentum"]) == (0.01, 0.0)
    assert (out["fit"]["epochs"], out["fit"]["batch_size"], out["fit"]["validation"]) == (27, 32, "test")
    assert out["sweep"]["space"] == {
        "model.layers.1.units": {"type": "int", "low": 32, "high": 256, "step": 32},
        "compile.optimizer.learning_rate": {"type": "float", "low": 1e-3, "high": 1e-1, "log": True},
        "compile.optimizer.momentum": {"type": "float", "low": 0.0, "high": 0.9, "step": 0.3},
        "fit.batch_size": {"type": "categorical", "choices": [32, 64, 128]}}
    # Keras Tuner's Hyperband(max_epochs=27, factor=3) starts 4 + 6 + 12 + 27 trials in its 4 brackets.
    assert (out["sweep"]["trials"], out["sweep"]["sampler"], out["sweep"]["pruner"]) == (49, "tpe", "hyperband")
    [epochs] = notes(out, "fit.epochs")
    assert epochs["was"] == "max_epochs=27 (search's epochs=50)" and epochs["now"] == "fit.epochs 27"
    assert out["warnings"] == []


def test_grid_search_of_a_functional_model_tries_the_whole_grid():
    out = imported("grid_functional")
    assert [layer["name"] for layer in out["model"]["layers"]] == ["flatten", "hidden", "dense"]
    assert out["model"]["layers"][1]["units"] == 32 and out["compile"]["optimizer"]["learning_rate"] == 1e-2
    assert out["sweep"] == {
        "space": {"model.layers.1.units": {"type": "categorical", "choices": [32, 64]},
                  "compile.optimizer.learning_rate": {"type": "categorical", "choices": [1e-2, 1e-3, 1e-4]}},
        "objective": {"metric": "val_accuracy", "direction": "maximize"},   # Keras 2's val_acc
        "trials": 6, "sampler": "grid", "pruner": "none"}
    assert notes(out, "sweep.trials")[0]["now"] == "6 trials"


@pytest.mark.parametrize("name", sorted(p.stem for p in HERE.glob("*.py")))
def test_an_imported_sweep_exports_as_a_sweep_script_suggesting_every_path(name):
    out = imported(name)
    base = {"name": name, "dataset": "digits", **{k: out[k] for k in ("model", "compile", "fit")}}
    sweep = out["sweep"]
    source = sweep_script(base, sweep["space"], sweep["objective"], sweep["trials"], sweep["sampler"],
                          sweep["pruner"], DIGITS)
    suggested = {node.args[0].value for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Call)
                 and isinstance(node.func, ast.Attribute) and node.func.attr.startswith("suggest_")}
    assert suggested == set(sweep["space"])


def test_an_ordinary_script_has_no_sweep():
    out = import_source("python", "import keras\nmodel = keras.Sequential([keras.layers.Dense(10)])\n")
    assert "sweep" not in out


SCRIPT = '''
import keras
import keras_tuner as kt
from keras import layers


def build_model(hp):
    model = keras.Sequential([
        layers.Flatten(),
        layers.Dense({units}, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


tuner = kt.RandomSearch(build_model, objective="val_accuracy", max_trials=3)
tuner.search(x, y, epochs=2, validation_split=0.2)
'''


@pytest.mark.parametrize("units, message", [
    ('hp.Int("units", min_value=512, max_value=32)', "Line 10: hp.Int('units'): min_value 512 is above max_value 32."),
    ('hp.Choice("units", [])', "Line 10: hp.Choice('units'): values must be a non-empty list"),
    ('hp.Float("units", 0.0, 1.0, sampling="log")', "Line 10: hp.Float('units'): sampling='log' needs min_value above 0"),
    ('hp.Int("units", 32, 64, step=0)', "Line 10: hp.Int('units'): step must be above 0"),
    ('hp.Choice("units", [32, 64], default=16)', "Line 10: hp.Choice('units'): default 16 is not one of the values"),
    ('hp.Int("units", 32, 64, default=128)', "Line 10: hp.Int('units'): default 128 is outside min_value..max_value"),
    ('hp.Int("units", 8, 64, step=1, sampling="log")', "Line 10: hp.Int('units'): a step on a log scale multiplies"),
])
def test_a_range_keras_tuner_would_refuse_is_refused_naming_the_line(units, message):
    with pytest.raises(SpecError) as info:
        import_source("python", SCRIPT.format(units=units))
    [error] = info.value.errors
    assert error.field == "source" and error.message.startswith(message)


@pytest.mark.parametrize("units, warning", [
    ('hp.Int("units", 32, n_max)', "line 10: hp.Int('units'): max_value = n_max cannot be read without running the "
                                   "script; it is not searched"),
    ('hp.Int("units", 16, 64) * 2', "line 10: hp.Int('units') is used in arithmetic, which a sweep over one spec "
                                    "cannot search; its default 16 is used"),
])
def test_an_hp_that_cannot_be_placed_is_a_warning_naming_its_line(units, warning):
    out = import_source("python", SCRIPT.format(units=units))
    assert warning in out["warnings"] and out["sweep"]["space"] == {}
    assert "line 17: RandomSearch: no hp.* value is used where the spec has a field, so the sweep searches nothing" \
        in out["warnings"]


def test_hps_where_no_sweep_searches_give_their_defaults_with_warnings():
    source = textwrap.dedent('''
        import keras
        import keras_tuner


        class Recurrent(keras_tuner.HyperModel):
            def build(self, hp):
                model = keras.Sequential()
                model.add(keras.layers.Reshape((8, 8)))
                model.add(keras.layers.Bidirectional(keras.layers.LSTM(hp.Int("lstm", 8, 32, step=8))))
                model.add(keras.layers.Dense(10, activation="softmax"))
                model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
                return model

            def fit(self, hp, model, x, y, **kwargs):
                stop = keras.callbacks.EarlyStopping(patience=hp.Int("patience", 1, 5))
                return model.fit(x, y, shuffle=hp.Boolean("shuffle", default=True), callbacks=[stop], **kwargs)


        tuner = keras_tuner.RandomSearch(Recurrent(), max_trials=4)
        tuner.search(x_train, y_train, epochs=3, validation_split=0.25)
    ''')
    out = import_source("python", source)
    assert out["model"]["layers"][1]["layer"]["units"] == 8
    assert out["fit"]["callbacks"]["early_stopping"]["patience"] == 1 and out["fit"]["shuffle"] is True
    assert (out["fit"]["epochs"], out["fit"]["validation"]) == (3, 0.25)
    where = "is used where a sweep cannot search it"
    assert [w.split(where)[0] for w in out["warnings"] if where in w] == [
        "line 10: hp.Int('lstm') ", "line 16: hp.Int('patience') ", "line 17: hp.Boolean('shuffle') "]
    assert out["sweep"]["space"] == {} and out["sweep"]["objective"] == {"metric": "val_loss", "direction": "minimize"}


def test_a_log_step_is_its_values_and_a_grid_lists_a_range_without_a_step():
    grid = SCRIPT.replace("kt.RandomSearch(build_model, objective=\"val_accuracy\", max_trials=3)",
                          "kt.GridSearch(build_model, objective=\"val_accuracy\")").replace(
        "layers.Flatten(),", 'layers.Flatten(), layers.Dropout(hp.Float("rate", 0.1, 0.5)),')
    out = import_source("python", grid.format(units='hp.Int("units", 32, 512, step=2, sampling="log")'))
    assert out["sweep"]["space"] == {   # Keras Tuner's log step multiplies; its grid tries 10 of a float range
        "model.layers.1.rate": {"type": "categorical", "choices": [0.1, 0.144444444444, 0.188888888889, 0.233333333333,
                                                                   0.277777777778, 0.322222222222, 0.366666666667,
                                                                   0.411111111111, 0.455555555556, 0.5]},
        "model.layers.2.units": {"type": "categorical", "choices": [32, 64, 128, 256, 512]}}
    assert out["sweep"]["trials"] == 50
    assert [n["now"] for n in notes(out, "rate")] == ["0.1, searched 0.1..0.5", "10 values, 0.1..0.5"]


def test_a_size_such_as_kernel_size_is_searched_by_choices():
    conv = SCRIPT.replace("layers.Flatten(),", "layers.Reshape((8, 8)), layers.Conv1D(8, {size}), layers.Flatten(),")
    out = import_source("python", conv.format(units=32, size='hp.Int("size", 2, 5)'))
    assert out["sweep"]["space"] == {"model.layers.1.kernel_size": {"type": "categorical", "choices": [2, 3, 4, 5]}}
    out = import_source("python", conv.format(units=32, size='hp.Int("size", 1, 999)'))
    assert out["sweep"]["space"] == {} and "kernel_size is a size, searched by choices" in out["warnings"][0]


def test_an_int_hp_written_with_whole_floats_gives_ints():
    out = import_source("python", SCRIPT.format(units='hp.Int("units", 32.0, 64.0, step=16.0)'))
    field = out["sweep"]["space"]["model.layers.1.units"]
    assert field == {"type": "int", "low": 32, "high": 64, "step": 16} and all(type(v) is int for v in field.values()
                                                                                if v != "int")


def test_counts_past_reason_stop_at_a_million():
    source = SCRIPT.format(units='hp.Int("units", 1, 10 ** 15)').replace(
        "kt.RandomSearch(build_model, objective=\"val_accuracy\", max_trials=3)", "kt.GridSearch(build_model)")
    assert import_source("python", source)["sweep"]["trials"] == 1_000_000
    fine = source.replace('hp.Int("units", 1, 10 ** 15)', "32").replace(
        "layers.Flatten(),", 'layers.Flatten(), layers.Dropout(hp.Float("rate", 0.0, 0.5, step=1e-300)),')
    assert import_source("python", fine)["sweep"]["trials"] == 1_000_000   # 5e299 steps, counted as a float
    huge = SCRIPT.format(units="32").replace("kt.RandomSearch(build_model, objective=\"val_accuracy\", max_trials=3)",
                                             "kt.Hyperband(build_model, max_epochs=100000, factor=2, "
                                             f"hyperband_iterations={2 ** 63})")
    assert import_source("python", huge)["sweep"]["trials"] == 1_000_000


def test_a_tuner_import_leaves_no_reference_cycle_behind():
    source = (HERE / "hyperband_hypermodel.py").read_text()
    import_source("python", source)
    gc.collect()
    gc.disable()
    try:
        before = len(gc.get_objects())
        import_source("python", source)
        left = len(gc.get_objects()) - before
    finally:
        gc.enable()
    assert left < 10
