"""A checked spec -> a runnable train.py that reproduces the run, in plain Keras.

The script reads like a Keras guide: data, model, compile, fit, evaluate, predict, save. Every value
that comes from a spec is written with repr(), so no name or string can break out of its literal;
names written bare (layer and optimizer classes, keras.datasets modules) come from the catalog.
A graph's layers become variables named after them, never a name Python or the script itself uses.
"""

import ast
import builtins
import keyword
import re

from .. import catalog, graph, keras_names as kn, pretrained
from . import backbone_script, script_text
from .script_data import data_arguments, data_imports, data_source
from .source_text import INDENT, literal


def layer_call(layer, name=False, given=None):
    """Give `keras.layers.X(...)` for a canonical layer, with only the arguments that differ from Keras's
    defaults (and its `name=`, when asked, for a functional model).

    given: {argument: source text} written in place of the layer's value, always (a sweep's trial.suggest_*).
    """
    kind, given = layer["type"], given or {}
    entry = catalog.LAYERS[kind]
    positional = kn.POSITIONAL.get(kind, ())[:kn.EXPORT_POSITIONAL.get(kind, 0)]
    args = [given.get(name) or (layer_call(layer[name]) if name == "layer" else literal(layer[name]))
            for name in positional]
    for param in entry.params:
        if param.name in positional:
            continue
        value = layer[param.name]
        if param.name in given:
            args.append(f"{param.name}={given[param.name]}")
        elif param.required or value != param.default:
            args.append(f"{param.name}={layer_call(value) if param.kind == 'layer' else literal(value)}")
    if name:
        args.append(f"name={literal(layer['name'])}")
    return f"keras.layers.{kind}({', '.join(args)})"


def optimizer_call(optimizer, given=None):
    """Give `keras.optimizers.X(...)` with only the arguments that differ from Keras's defaults.

    given: {argument: source text} written in place of the optimizer's value, always; a schedule's
    initial_learning_rate is its learning_rate.
    """
    entry, given = catalog.OPTIMIZERS[optimizer["type"]], given or {}
    schedule = optimizer.get("schedule")

    def text(name):
        return given.get(name) or literal(optimizer[name])

    args = [f"{p.name}={text(p.name)}" for p in entry.params
            if (optimizer[p.name] != p.default or p.name in given) and not (schedule and p.name == "learning_rate")]
    if schedule:
        settings = [f"initial_learning_rate={text('learning_rate')}"] + [
            f"{k}={literal(v)}" for k, v in schedule.items() if k != "type" and not (k == "staircase" and not v)]
        args.insert(0, f"learning_rate=keras.optimizers.schedules.{schedule['type']}({', '.join(settings)})")
    return f"keras.optimizers.{entry.type}({', '.join(args)})"


def callback_calls(callbacks, checkpoint='"best.keras"'):
    """Give the callbacks list's items: the spec's callbacks, then TerminateOnNaN (the dashboard's Progress
    callback stops on a NaN loss the same way). checkpoint: the source text of the best epoch's file."""
    calls = []
    for name, settings in callbacks.items():
        if not settings:
            continue
        defaults = kn.KERAS_CALLBACKS[name]
        args = [checkpoint] if name == "checkpoint" else []
        args += [f"{k}={literal(v)}" for k, v in settings.items() if defaults.get(k) != v]
        calls.append(f"keras.callbacks.{kn.CALLBACK_CLASSES[name]}({', '.join(args)})")
    return calls + ["keras.callbacks.TerminateOnNaN()"]


def python_script(spec, dataset):
    """Give train.py for a checked spec with compile and fit, on a dataset description."""
    fit = spec.fit or {}
    before = [_header(spec, dataset, fit), "\n".join(data_source(dataset)), labels(spec.label_mode, dataset)]
    after = [compile_lines(spec.compile), fit_lines(fit)]
    after += [part for part in (backbone_script.fine_tune_lines(spec, optimizer_call),) if part]
    after.append(_results(spec.label_mode))
    if script_text.kind(dataset) == "text":
        after.insert(0, script_text.adapt_lines(fit))
    if spec.predict:
        after.append(_predict(spec.predict["indexes"], spec.label_mode))
    # Read from the script itself, so a name it comes to use is never a layer's variable too.
    reserved = PYTHON_NAMES | script_names("\n\n".join(before + after))
    return "\n\n".join(before + [model_lines(spec, dataset, reserved)] + after) + "\n"


def _header(spec, dataset, fit):
    checkpoint = (fit.get("callbacks") or {}).get("checkpoint")
    doc = [
        "Train a Keras model as a run of the Keras dashboard did: data, model, compile, fit, evaluate.",
        "",
        "Run it with `python train.py`; `--epochs N` and `--batch-size N` override the run's settings.",
        "It writes model.keras (the trained model)" + (" and best.keras (the best epoch)." if checkpoint else "."),
    ]
    if fit.get("find_lr"):   # the dashboard's instrumentation (dynamics, the range test) is never exported
        doc += ["", "The dashboard's run was a learning-rate range test (fit.find_lr); this script trains",
                "normally, at the learning rate of compile.optimizer."]
    arguments = [
        f'parser.add_argument("--epochs", type=int, default={literal(fit.get("epochs", 1))}, help="passes over the training data")',
        f'parser.add_argument("--batch-size", type=int, default={literal(fit.get("batch_size", 32))}, '
        'help="samples per gradient update")',
    ]
    return header(doc, dataset, [f"RUN_NAME = {literal(spec.name)}"], arguments)


def header(doc, dataset, constants, arguments, imports=()):
    """Give a script's head: its docstring (`doc`, lines of text), imports, constants (DATASET last) and argparse
    options (`arguments`, then the dataset's), ending with `args = parser.parse_args()`."""
    lines = ['"""' + doc[0], *doc[1:], '"""', "", "import argparse", "", "import keras", "import numpy as np",
             *imports, *data_imports(dataset), "", *constants, f"DATASET = {literal(dataset['id'])}", "",
             "parser = argparse.ArgumentParser(description=__doc__)", *arguments, *data_arguments(dataset)]
    return "\n".join(lines + ["args = parser.parse_args()"])


def labels(mode, dataset):
    """Give the lines that encode the labels for the loss (`mode`: onehot, sparse or binary)."""
    lines = [f"num_classes = {literal(int(dataset['num_classes']))}",
             "labels_test = y_test  # the integer labels, to compare with the predictions"]
    if mode == "onehot":
        lines += ["# The loss takes one-hot labels.",
                  "y_train = keras.utils.to_categorical(y_train, num_classes)",
                  "y_test = keras.utils.to_categorical(y_test, num_classes)"]
    elif mode == "binary":
        lines += ["# binary_crossentropy takes one float label per sample.",
                  'y_train = y_train.astype("float32").reshape(-1, 1)',
                  'y_test = y_test.astype("float32").reshape(-1, 1)']
    else:
        lines.append("# sparse_categorical_crossentropy takes the integer labels as they are.")
    return "\n".join(lines)


def model_lines(spec, dataset, reserved, given=None, summary=True):
    """Give the lines that build `model` (Sequential, or the functional API for a graph spec), then its summary.

    given: {layer index: {argument: source text}}, as layer_call takes it.
    """
    shape = literal([None if d is None else int(d) for d in dataset["input_shape"]])   # None: any length
    given = given or {}
    if not dataset["input_shape"]:   # a text dataset's: one string per sample (build.model_input)
        shape = '(), dtype="string"'
    # A backbone reading the images themselves knows their shape (its Resizing and channels follow from it).
    shapes = {i: dataset["input_shape"] for i, layer in enumerate(spec.layers)
              if (layer.get("inputs") or [graph.INPUT]) == [graph.INPUT] and (i == 0 or spec.is_graph)}
    before = backbone_script.definitions(spec)
    before = before + "\n" if before else ""
    fixed = backbone_script.fixed_weights(spec, shapes)
    fixed = "\n" + fixed if fixed else ""
    if spec.is_graph:
        return before + functional_model(spec.layers, shape, reserved, given, summary, shapes) + fixed
    rows = [f"keras.Input(shape={shape})"]
    for i, layer in enumerate(spec.layers):
        rows += (backbone_script.stack_rows(layer, layer.get("name") or graph.layer_names(spec.layers)[i], shapes.get(i))
                 if layer["type"] in pretrained.BACKBONES else [layer_call(layer, given=given.get(i))])
    body = "".join(f"{INDENT * 2}{row},\n" for row in rows)
    return before + f"model = keras.Sequential(\n{INDENT}[\n{body}{INDENT}]\n)" + fixed + ("\nmodel.summary()" if summary else "")


# Python's own names: keywords (a syntax error) and builtins (print, len, range... shadowed, the
# script fails later). The script's own names are read from it (script_names).
PYTHON_NAMES = frozenset(keyword.kwlist) | frozenset(dir(builtins))


def script_names(source):
    """Give every name a script binds or reads: variables, functions and their arguments, imported modules."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.alias):
            names.add(node.asname or node.name.split(".")[0])
    return names


def functional_model(layers, shape, reserved, given=None, summary=True, shapes=None):
    """Give the functional API lines for a graph spec: one variable per layer, named after it (never a
    `reserved` name: Python's, or one the rest of the script uses). shapes: {index: input shape} of the
    backbones that read the images themselves."""
    variables, taken, given = {graph.INPUT: "inputs"}, {*reserved, "inputs"}, given or {}
    lines = [f"inputs = keras.Input(shape={shape})"]
    for index, layer in enumerate(layers):
        var = _variable(layer["name"], taken)
        taken.add(var)
        args = [variables[n] for n in layer["inputs"]]
        called = f"[{', '.join(args)}]" if graph.merge_arity(layer["type"]) else args[0]
        if layer["type"] in pretrained.BACKBONES:   # its front layers, then the block (defined before)
            for call in backbone_script.stack_rows(layer, layer["name"], (shapes or {}).get(index))[:-1]:
                lines.append(f"{var} = {call}({called})")
                called = var
            lines.append(f"{var} = {backbone_script.variable(layer['name'])}({called}, training=False)")
        else:
            lines.append(f"{var} = {layer_call(layer, name=True, given=given.get(index))}({called})")
        variables[layer["name"]] = var
    lines.append(f"model = keras.Model(inputs, {variables[layers[-1]['name']]})")
    return "\n".join(lines + (["model.summary()"] if summary else []))


def _variable(name, taken):
    """Give a Python variable for a layer name, not one of `taken`: conv2d_1 stays, block1-conv becomes
    block1_conv, print becomes print_out."""
    var = re.sub(r"\W", "_", name)
    var = var if var.isidentifier() else "layer_" + var
    while var in taken:
        var += "_out"
    return var


def compile_lines(compile_spec, optimizer=None):
    """Give `model.compile(...)`; optimizer: the source text of the optimizer, else the spec's as a call."""
    return "\n".join([
        "model.compile(",
        f"{INDENT}optimizer={optimizer or optimizer_call(compile_spec['optimizer'])},",
        f"{INDENT}loss={literal(compile_spec['loss'])},",
        f"{INDENT}metrics={literal(compile_spec['metrics'], tuples=False)},",
        ")",
    ])


def fit_lines(fit, epochs="args.epochs", batch_size="args.batch_size", callbacks=(), checkpoint='"best.keras"',
              verbose=None):
    """Give the callbacks list and `history = model.fit(...)`: epochs and batch_size as source text, `callbacks`
    added to the spec's (source text), checkpoint as callback_calls takes it, verbose when not Keras's default."""
    calls = callback_calls(fit.get("callbacks") or {}, checkpoint) + list(callbacks)
    lines = ["callbacks = ["] + [f"{INDENT}{call}," for call in calls] + ["]"]
    args = ["x_train", "y_train", f"epochs={epochs}", f"batch_size={batch_size}"]
    validation = fit.get("validation", "none")
    if validation == "test":
        args.append("validation_data=(x_test, y_test)")
    elif validation != "none":
        args.append(f"validation_split={literal(float(validation))}")
    if fit.get("shuffle") is False:
        args.append("shuffle=False")
    args.append("callbacks=callbacks")
    if verbose is not None:
        args.append(f"verbose={verbose}")
    return "\n".join(lines + ["history = model.fit("] + [f"{INDENT}{arg}," for arg in args] + [")"])


def _classes(rows, mode):
    """Give the expression of the predicted classes of `rows` (Keras 3's predict_classes)."""
    if mode == "binary":
        return f"(model.predict({rows}, verbose=0)[:, 0] > 0.5).astype(int)"
    return f"np.argmax(model.predict({rows}, verbose=0), -1)"


def _predict(indexes, mode):
    """Give the imported script's predict step: the classes of the test images it picked."""
    contiguous = indexes == list(range(indexes[0], indexes[0] + len(indexes)))
    rows = f"x_test[{indexes[0]}:{indexes[-1] + 1}]" if contiguous else f"x_test[{literal(indexes, tuples=False)}]"
    return "\n".join([
        "# The predict step of the imported script, in Keras 3 form: predict_classes(x) is",
        "# np.argmax(model.predict(x), -1). The dashboard's gallery opens on these test images.",
        f'print("Predict the classes of {rows}:")',
        f"predicted = {_classes(rows, mode)}",
        'print("Predicted classes:", predicted)',
    ])


def _results(mode):
    predict = f"predictions = {_classes('x_test', mode)}"
    return "\n".join([
        'print("Epochs trained:", len(history.epoch))',
        "scores = model.evaluate(x_test, y_test, verbose=0, return_dict=True)",
        'print("Test scores:", scores)',
        predict,
        'print("Test accuracy from the predictions:", float(np.mean(predictions == labels_test)))',
        'model.save("model.keras")',
    ])

