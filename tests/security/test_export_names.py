"""An exported train.py works whatever its graph's layers are called: a layer named after a Python
keyword, a builtin (print, len, range...), a module the script imports (os, random, np) or a name
the script itself uses (model, args, load_folder...) becomes a variable that shadows none of them,
so the script compiles and runs."""

import ast
import builtins
import keyword
import os
import subprocess
import sys

import pytest

from tests.specs import MLP, spec
from tests.unit.test_exports import PETS, folder_dataset
from webapp.datasets import BUILTIN, describe
from webapp.modelspec.exporters import train_script
from webapp.modelspec.graph import INPUT, NAME
from webapp.modelspec.validate import MAX_LAYERS, validate

DIGITS = describe("digits", BUILTIN["digits"])
# The names the finding named, and some of the script's own (the folder loader's among them).
RUN_NAMES = ["print", "len", "float", "range", "zip", "sorted", "round", "os", "random", "np", "keras", "model",
             "inputs", "args", "history", "load_folder", "CLASS_NAMES", "x", "y", "test", "rng", "members", "k"]


def graph_spec(names, classes):
    """Give a run spec of a chain of layers named `names`: Flatten, Dense(4)..., Dense(classes) softmax."""
    layers = [{"type": "Flatten", "name": names[0], "inputs": [INPUT]}]
    layers += [{"type": "Dense", "units": 4, "name": name, "inputs": [before]} for before, name in zip(names, names[1:])]
    layers.append({"type": "Dense", "units": classes, "activation": "softmax", "name": "output", "inputs": [names[-1]]})
    return validate(spec(MLP, dataset="any", model={"layers": layers}, fit={"epochs": 1, "batch_size": 16},
                         compile={"optimizer": "adam", "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]}),
                    require_run=True)


def names_in(source):
    """Give every name the script binds or reads (found here with ast, independently of the exporter)."""
    tree = ast.parse(source)
    return ({n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | {n.arg for n in ast.walk(tree) if isinstance(n, ast.arg)}
            | {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
            | {(a.asname or a.name).split(".")[0] for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))
               for a in n.names})


def layer_variables(source):
    """Give the variables the script assigns a layer's output to: `v = keras.layers.X(...)(...)`."""
    return {node.targets[0].id for node in ast.parse(source).body if isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Call)
            and ast.unparse(node.value.func.func).startswith("keras.layers.")}


@pytest.fixture(scope="module")
def pets(tmp_path_factory):
    """Give (folder, the description) of a dataset built from class folders, as the server builds it."""
    folder = tmp_path_factory.mktemp("pets")
    return folder, folder_dataset(folder, "pets", PETS)


def every_name(datasets):
    """Give every name a layer may take that Python or an exported script (on these datasets) uses."""
    plain = [train_script.python_script(graph_spec(["a", "b"], 3), dataset) for dataset in datasets]
    used = set(dir(builtins)) | set(keyword.kwlist) | set().union(*map(names_in, plain))
    return sorted(name for name in used if NAME.fullmatch(name) and name not in (INPUT, "output"))


def test_layers_named_after_python_or_the_scripts_own_names_shadow_none_of_them(pets):
    _, folders = pets
    names = every_name([DIGITS, folders])
    assert {"print", "len", "sorted", "class", "os", "random", "load_folder", "model"} <= set(names)
    for dataset in (DIGITS, folders):
        for start in range(0, len(names), MAX_LAYERS - 1):
            source = train_script.python_script(graph_spec(names[start:start + MAX_LAYERS - 1], 3), dataset)
            compile(source, "train.py", "exec")
            others = names_in(source.replace(source[source.index("inputs = keras.Input"):source.index("model.summary()")], ""))
            assert layer_variables(source) & (others | set(dir(builtins)) | {"inputs", "model", "keras"}) == set()


@pytest.mark.keras
def test_an_export_whose_layers_shadow_python_names_runs(pets):
    folder, dataset = pets
    source = train_script.python_script(graph_spec(RUN_NAMES, dataset["num_classes"]), dataset)
    (folder / "train.py").write_text(source)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, "train.py", "--epochs", "1", "--folder", "pets"], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (folder / "model.keras").exists()
