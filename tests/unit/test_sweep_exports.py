"""Exporting a sweep: a sweep.py that does the same search with Optuna and plain Keras, and runs."""

import ast
import os
import re
import subprocess
import sys

import pytest

from tests.specs import CNN, RESIDUAL, spec
from tests.unit.test_exports import DIGITS
from webapp.modelspec.exporters.sweep_script import sweep_script
from webapp.modelspec.exporters.train_script import python_script
from webapp.modelspec.validate import SpecError, validate

# The digits MLP of the brief: Flatten, a Dense whose units are searched, Dense 10 softmax. Its base
# settings are the space's weakest corner (16 units, learning rate 1e-3), so after 2 epochs a plain
# train.py of it is the floor a search of the space should reach.
BASE = {"name": "digits-mlp", "dataset": "digits", "model": {"layers": [
    {"type": "Flatten"},
    {"type": "Dense", "units": 16, "activation": "relu"},
    {"type": "Dense", "units": 10, "activation": "softmax"},
]}, "compile": {"optimizer": {"type": "Adam", "learning_rate": 0.001}, "loss": "sparse_categorical_crossentropy",
                "metrics": ["accuracy"]}, "fit": {"epochs": 2, "batch_size": 64, "validation": "test"}}
SPACE = {"model.layers.1.units": {"type": "int", "low": 16, "high": 64},
         "compile.optimizer.learning_rate": {"type": "float", "low": 1e-3, "high": 1e-1, "log": True}}
MAXIMIZE = {"metric": "val_accuracy", "direction": "maximize"}


def script(base=BASE, space=SPACE, objective=MAXIMIZE, trials=3, sampler="tpe", pruner="median", dataset=DIGITS):
    return sweep_script(validate(base).to_dict(), space, objective, trials, sampler, pruner, dataset)


def calls(source, name):
    """Give every call of `name` (an attribute such as suggest_int) in the source, as ast nodes."""
    return [node for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute) and node.func.attr == name]


def test_each_searched_path_is_suggested_where_its_value_is_used():
    space = {**SPACE, "fit.batch_size": {"type": "categorical", "choices": [32, 64]},
             "fit.epochs": {"type": "int", "low": 1, "high": 4, "step": 1}}
    source = script(space=space)
    assert 'keras.layers.Dense(trial.suggest_int("model.layers.1.units", 16, 64), activation="relu"),' in source
    assert ('optimizer=keras.optimizers.Adam(learning_rate=trial.suggest_float("compile.optimizer.learning_rate", '
            '0.001, 0.1, log=True)),') in source
    assert 'batch_size=trial.suggest_categorical("fit.batch_size", [32, 64]),' in source
    assert 'epochs=trial.suggest_int("fit.epochs", 1, 4, step=1),' in source
    assert "ReportEpochs(trial, OBJECTIVE)," in source and "return history.history[OBJECTIVE][-1]" in source
    assert 'direction="maximize"' in source and "optuna.samplers.TPESampler()" in source
    assert "optuna.pruners.MedianPruner()" in source
    assert "print(\"Best value:\", study.best_value)" in source and "print(\"Best params:\", study.best_params)" in source


def test_the_optimizer_type_is_a_branch_per_choice_keeping_the_arguments_each_type_takes():
    space = {"compile.optimizer.type": {"type": "categorical", "choices": ["Adam", "SGD"]},
             "compile.optimizer.learning_rate": {"type": "float", "low": 0.001, "high": 0.1, "step": 0.033}}
    source = script(space=space, sampler="grid", pruner="hyperband")
    assert 'optimizer_type = trial.suggest_categorical("compile.optimizer.type", ["Adam", "SGD"])' in source
    assert 'if optimizer_type == "Adam":\n        optimizer = keras.optimizers.Adam(learning_rate=trial.suggest_float(' \
           in source
    assert "    else:\n        optimizer = keras.optimizers.SGD(learning_rate=trial.suggest_float(" in source
    assert "optimizer=optimizer," in source
    assert "optuna.samplers.GridSampler(SEARCH_SPACE)" in source
    assert '"compile.optimizer.learning_rate": [round(0.001 + i * 0.033, 12) for i in range(4)],' in source
    assert "optuna.pruners.HyperbandPruner(min_resource=1, max_resource=2)" in source


def test_samplers_and_pruners_are_optunas():
    stepped = {"model.layers.1.units": {"type": "int", "low": 16, "high": 64, "step": 16}}
    for sampler, name in (("tpe", "TPESampler()"), ("random", "RandomSampler()"), ("grid", "GridSampler(SEARCH_SPACE)")):
        assert f"sampler=optuna.samplers.{name}," in script(space=stepped, sampler=sampler)
    for pruner, name in (("median", "MedianPruner()"), ("none", "NopPruner()"),
                         ("hyperband", "HyperbandPruner(min_resource=1, max_resource=2)")):
        assert f"pruner=optuna.pruners.{name}," in script(pruner=pruner)


def test_a_graph_layer_is_found_by_name_and_a_tuple_choice_by_its_index():
    source = script(base=RESIDUAL, space={"model.layers.stem.filters": {"type": "int", "low": 4, "high": 16, "step": 4}})
    assert 'keras.layers.Conv2D(trial.suggest_int("model.layers.stem.filters", 4, 16, step=4), (3, 3),' in source
    assert "model = keras.Model(inputs, dense)" in source
    source = script(base=CNN, space={"model.layers.0.kernel_size": {"type": "categorical", "choices": [[3, 3], [5, 5]]}},
                    sampler="grid")
    assert '((3, 3), (5, 5))[trial.suggest_categorical("model.layers.0.kernel_size", [0, 1])]' in source
    assert '"model.layers.0.kernel_size": [0, 1],' in source


def test_every_value_from_the_sweep_stays_inside_its_literal():
    hostile = 'x"""\nimport os; os.system("echo hi")\n\'\'\'#'
    base = spec(BASE, name=hostile)
    dataset = {"id": "up'\nload", "name": "evil\" + __import__('os').getcwd() + \"", "input_shape": [8, 8, 1],
               "num_classes": 10, "source": "upload"}
    choices = ['relu"), os.system("echo hi"), ("', "tanh'''\n#"]
    source = script(base=base, space={"model.layers.1.activation": {"type": "categorical", "choices": choices}},
                    dataset=dataset)
    tree = ast.parse(source)
    constants = {node.targets[0].id: node.value.value for node in tree.body
                 if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)}
    assert constants["RUN_NAME"] == validate(base).name == hostile.replace("\n", "")   # the check drops newlines
    assert constants["DATASET"] == dataset["id"]
    [call] = calls(source, "suggest_categorical")
    assert [ast.literal_eval(arg) for arg in call.args] == ["model.layers.1.activation", choices]
    assert not any(isinstance(node, ast.Import) and node.names[0].name == "os" for node in ast.walk(tree))


@pytest.mark.parametrize("space, objective, sampler, field", [
    ({"model.layers.9.units": SPACE["model.layers.1.units"]}, MAXIMIZE, "tpe", "space.model.layers.9.units"),
    ({"model.layers.1.colour": SPACE["model.layers.1.units"]}, MAXIMIZE, "tpe", "space.model.layers.1.colour"),
    ({"fit.shuffle": {"type": "categorical", "choices": [True, False]}}, MAXIMIZE, "tpe", "space.fit.shuffle"),
    ({"model.layers.1.units": {"type": "int", "low": 64, "high": 16}}, MAXIMIZE, "tpe", "space.model.layers.1.units"),
    ({"compile.optimizer.type": {"type": "categorical", "choices": ["Adam", "os"]}}, MAXIMIZE, "tpe",
     "space.compile.optimizer.type"),
    ({"compile.optimizer.momentum": {"type": "float", "low": 0, "high": 0.9}}, MAXIMIZE, "tpe",
     "space.compile.optimizer.momentum"),   # Adam has no momentum
    ({"compile.optimizer.learning_rate": {"type": "float", "low": 0, "high": 0.1, "log": True}}, MAXIMIZE, "tpe",
     "space.compile.optimizer.learning_rate"),
    ({}, MAXIMIZE, "tpe", "space"),
    (SPACE, {"metric": "val_auc", "direction": "maximize"}, "tpe", "objective.metric"),
    (SPACE, {"metric": "val_loss", "direction": "down"}, "tpe", "objective.direction"),
    (SPACE, MAXIMIZE, "cmaes", "sampler"),
    (SPACE, MAXIMIZE, "grid", "space.compile.optimizer.learning_rate"),   # a grid lists a float only by a step
    ({"compile.optimizer.learning_rate": {"type": "float", "low": 0.0, "high": 1e300, "step": 1e-300}}, MAXIMIZE,
     "tpe", "space.compile.optimizer.learning_rate"),   # 10**600 values: refused before anything is counted out
    ({"model.layers.1.units": {"type": "int", "low": 1, "high": 2 ** 62}}, MAXIMIZE, "grid", "space.model.layers.1.units"),
])
def test_what_cannot_be_written_is_refused_naming_the_field(space, objective, sampler, field):
    with pytest.raises(SpecError) as info:
        script(space=space, objective=objective, sampler=sampler)
    assert info.value.errors[0].field == field


# ---- with Keras --------------------------------------------------------------------------------

GRID = {"compile.optimizer.type": {"type": "categorical", "choices": ["Adam", "RMSprop"]},
        "fit.batch_size": {"type": "int", "low": 32, "high": 64, "step": 32}}


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    """Run the three scripts side by side (each imports TensorFlow, seconds apiece), each in a folder of its own:
    the base's train.py, a TPE sweep.py of SPACE, and a grid sweep.py with Hyperband. Give {name: output};
    each must exit 0."""
    scripts = {
        "train.py": python_script(validate(BASE, require_run=True), DIGITS),
        "sweep.py": script(),
        "grid.py": script(base=spec(BASE, fit={"epochs": 1, "batch_size": 64, "validation": "test"}), space=GRID,
                          trials=4, sampler="grid", pruner="hyperband"),
    }
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    started = {}
    for name, source in scripts.items():
        cwd = tmp_path_factory.mktemp(name.split(".")[0])
        (cwd / name).write_text(source)
        started[name] = subprocess.Popen([sys.executable, name], cwd=cwd, env=env, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, text=True)
    outputs = {}
    for name, process in started.items():
        out, err = process.communicate(timeout=600)
        assert process.returncode == 0, f"{name}: {err[-3000:]}"
        outputs[name] = out + err   # Optuna logs its trials on stderr
    return outputs


def printed(out, label):
    """Give the value a script printed after `label`, read as Python."""
    return ast.literal_eval(re.search(rf"^{label}: (.+)$", out, re.M).group(1))


@pytest.mark.keras
def test_sweep_script_searches_the_space_and_reaches_at_least_the_base_run(ran):
    base = printed(ran["train.py"], "Test accuracy from the predictions")
    out = ran["sweep.py"]
    assert printed(out, "Trials finished") == 3
    best, params = printed(out, "Best value"), printed(out, "Best params")
    assert best >= base - 0.1, (best, base)   # the base is the space's weakest corner: a search does at least as well
    assert set(params) == set(SPACE) and 16 <= params["model.layers.1.units"] <= 64
    assert 1e-3 <= params["compile.optimizer.learning_rate"] <= 1e-1
    tried = re.findall(r"Trial \d+ finished with value: .* and parameters: (\{.*?\})\.", out)
    assert len({str(p) for p in tried}) == 3   # each trial got its own suggestions


@pytest.mark.keras
def test_grid_sweep_over_optimizer_type_and_batch_size_runs_with_hyperband(ran):
    out = ran["grid.py"]
    assert printed(out, "Trials finished") == 4
    assert printed(out, "Best params")["compile.optimizer.type"] in ("Adam", "RMSprop")
    assert 0 <= printed(out, "Best value") <= 1
