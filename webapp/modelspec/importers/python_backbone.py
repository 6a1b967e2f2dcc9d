"""keras.applications backbones and the two-phase fine-tuning recipe in a pasted script, read without running it.

`base = keras.applications.X(weights="imagenet", include_top=False, ...)` (any module path, Keras 2's
`from keras.applications.inception_v3 import InceptionV3` too) is one spec layer `{"type": X,
"weights", "include_top": false, "pooling", "trainable", ...its Keras arguments}`, whether the
script calls it on a tensor (`base(inputs, training=False)`), builds on `base.output` / `base.input`
or `input_tensor=`, or puts it in a Sequential. What it is told about `trainable` is kept as events
in order (`base.trainable = False`; `for layer in base.layers[-N:]` or `model.layers[:249]`:
`layer.trainable = ...`), and each fit sees the events before it: the first fit is the run (the
backbone's `trainable` as then), the second the planned continue `fit.fine_tune {"epochs",
"unfreeze": N | "all", "learning_rate"}`, N counted from the backbone's top with the layer counts of
`pretrained.py`. A Rescaling, Resizing or Normalization right in front of the backbone, and its
`preprocess_input`, are dropped with a note: the dashboard adds exactly the backbone's own.
"""

import ast

from .. import catalog, graph, keras_names as kn, pretrained
from . import python_training
from .import_answer import refuse
from .python_values import Backbone, Call, LayerSlice, Model, NotStatic, Ref

PREPROCESSING = ("Rescaling", "Resizing", "Normalization")
CALL_ARGUMENTS = ("include_top", "weights", "input_tensor", "input_shape", "pooling")   # Keras's positional order
QUIET = ("name", "classes", "classifier_activation")   # about the top, which include_top=False leaves out


def application(reader, call):
    """Give a Backbone for keras.applications.X(...), or None for any other call."""
    func = call.func
    parts = func.path.split(".") if isinstance(func, Ref) else []
    if call.name not in pretrained.BACKBONES or not (len(parts) == 1 or "applications" in parts):
        return None
    given = {**dict(zip(CALL_ARGUMENTS, call.args)), **call.kwargs}
    return Backbone(call, given.get("input_tensor"))


def member(owner, attr):
    """Give base.layers / model.layers as a LayerSlice; else None."""
    if attr == "layers" and isinstance(owner, (Backbone, Model)):
        return LayerSlice(owner)
    return None


def layer_slice(reader, base, index):
    """Give layers[a:b] of a LayerSlice from constant bounds, or None."""
    if not isinstance(base, LayerSlice) or not isinstance(index, ast.Slice) or index.step is not None:
        return None
    bounds = [reader.value(part) if part is not None else None for part in (index.lower, index.upper)]
    if not all(b is None or isinstance(b, int) and not isinstance(b, bool) for b in bounds):
        return None
    return LayerSlice(base.owner, *bounds)


def set_trainable(reader, target, value, line):
    """Record `base.trainable = X` (a Backbone's attribute) as an event; give True when it was one."""
    if not (isinstance(target, ast.Attribute) and target.attr == "trainable"):
        return False
    owner = reader.value(target.value)
    if not isinstance(owner, Backbone):
        return False
    _event(reader, LayerSlice(owner), value, line, False)
    return True


def layer_loop(reader, stmt, items):
    """Follow `for layer in base.layers[...]: layer.trainable = X` (an isinstance guard allowed) as one event."""
    name = stmt.target.id if isinstance(stmt.target, ast.Name) else None
    found = False
    for node in ast.walk(stmt):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Attribute) \
                and node.targets[0].attr == "trainable" and isinstance(node.targets[0].value, ast.Name) \
                and node.targets[0].value.id == name:
            guarded = any(isinstance(n, ast.If) and node in ast.walk(n) for n in stmt.body)
            _event(reader, items, reader.value(node.value), stmt.lineno, guarded)
            found = True
    if not found and reader.flow.touches_model(stmt):
        reader.warn(stmt.lineno, "a loop over the model's layers that does more than set trainable is not read; skipped")
    return True


def _event(reader, where, value, line, guarded):
    """Keep one trainable change: (LayerSlice, True/False, line, whether an if guards it)."""
    if not isinstance(value, bool):
        reader.warn(line, f"trainable = {reader.text(value) if hasattr(value, 'node') else value!r:.40} cannot be "
                          "read without running the script; ignored")
        return
    reader.trainable_events.append((where, value, line, guarded))


def layer(imp, call, index):
    """Give keras.applications.X(...) as one spec layer, noting what the dashboard does in place of its other arguments."""
    kind, line = call.name, call.line
    given = {**dict(zip(CALL_ARGUMENTS, call.args)), **call.kwargs}
    out = {"type": kind, "weights": "imagenet", "include_top": False, "pooling": None, "trainable": True}
    for key, value in given.items():
        try:
            plain = imp.plain(value, line) if key != "input_tensor" else None
        except NotStatic as exc:
            imp.warn(line, f"{kind}: {key} = {exc} cannot be read without running the script; the default is used")
            continue
        if key == "include_top" and plain:
            refuse(index, "include_top", f"Line {line}: {kind}(include_top=True) is the whole ImageNet classifier; "
                                         "only a backbone without its top (include_top=False) can be imported, "
                                         "with a head of the script's own.")
        elif key == "weights":
            out["weights"] = _weights(imp, plain, kind, line)
        elif key == "pooling":
            out["pooling"] = plain
        elif key == "input_shape" and _image_shape(plain):
            # The size it is built at picks its ImageNet file (MobileNetV2 0.35 at 96 is another file than at 224).
            out["input_shape"] = [int(d) for d in plain]
            imp.note(line, f"input_shape={imp.text(value)}", f"{kind}'s input_shape {out['input_shape']}",
                     "the dashboard resizes the dataset's images to it and scales them as its preprocess_input "
                     "does", index, "input_shape")
        elif key in ("input_shape", "input_tensor"):
            imp.note(line, f"{key}=...", "the dataset's images", "the dataset gives the input; the dashboard resizes "
                     f"it to a size {kind} accepts and scales it as its preprocess_input does", index, "type")
        elif key in pretrained.BACKBONES[kind].args:
            out[key] = plain
        elif key not in QUIET and key != "include_top":
            imp.warn(line, f"{kind}: {key} = {imp.text(value)} is not part of the spec; ignored")
    out.update(pretrained.arguments(kind, out))
    return out


def _image_shape(value):
    """Say whether `value` is a static (rows, cols, 3) image shape."""
    return (isinstance(value, (list, tuple)) and len(value) == 3 and value[2] == 3
            and all(isinstance(d, int) and not isinstance(d, bool) for d in value))


def _weights(imp, value, kind, line):
    """Give "imagenet" or None; another value (a file path) is left to the weights upload, with a warning."""
    if value in ("imagenet", None):
        return value
    imp.warn(line, f"{kind}: weights = {value!r:.60} is a file the dashboard cannot read from the script; upload it "
                   "as a weights file for this backbone and pick it (weights null is used: from scratch)")
    return None


def tidy(imp, layers, lines):
    """Drop the scaling and resizing the script puts right in front of a backbone, with a note; give the layers."""
    for i in [i for i, layer in enumerate(layers) if layer["type"] in pretrained.BACKBONES]:
        backbone = layers[i]
        while True:
            j = _feeding(layers, i)
            if j is None or layers[j]["type"] not in PREPROCESSING or _consumers(layers, j) > 1:
                break
            dropped = layers.pop(j)
            line = lines.pop(j)
            i -= 1
            for item in imp.reader.notes.values():   # the notes of the layers after it point one lower
                if item.get("layer") is not None and item["layer"] > j:
                    item["layer"] -= 1
                elif item.get("layer") == j:
                    del item["layer"]
            if "inputs" in backbone:
                backbone["inputs"] = list(dropped["inputs"])
            imp.note(line, imp.text_layer({k: v for k, v in dropped.items() if k not in ("name", "inputs")}),
                     f"{backbone['type']}'s own preprocessing", f"the dashboard puts in front of {backbone['type']} "
                     "exactly the resizing and scaling its preprocess_input does, from Keras layers; the script's "
                     "own is dropped", None, "type")
    return layers


def _feeding(layers, i):
    """Give the index of the layer that feeds layer i (the one before it, or its one named input), or None."""
    if "inputs" not in layers[i]:
        return i - 1 if i > 0 else None
    names = layers[i]["inputs"]
    if len(names) != 1 or names[0] == graph.INPUT:
        return None
    return next((j for j, layer in enumerate(layers) if layer.get("name") == names[0]), None)


def _consumers(layers, j):
    """Give how many layers take layer j's output (1 in a stack)."""
    name = layers[j].get("name")
    return sum(name in layer.get("inputs", ()) for layer in layers) if name else 1


def state(imp, layers, events, index):
    """Give the trainable backbone layers after `events`: "all", None (frozen) or N from the top."""
    backbone = layers[index]
    total = pretrained.BACKBONES[backbone["type"]].layers
    head = len(layers) - index - 1
    imp.reader.cost.charge((len(events) + 1) * (total + head))   # each event marks up to every layer
    flags = [True] * total   # Keras's layers start trainable
    for where, value, line, guarded in events:
        span = _span(imp, where, total, head, line)
        for k in span:
            flags[k] = value
        if guarded and value:
            imp.note(line, imp.reader.line_text(line), "BatchNormalization stays frozen", "the dashboard keeps a "
                     "fine-tuned backbone's BatchNormalization layers in inference mode, as this guard does", None,
                     "fit.fine_tune.unfreeze")
    top = next((k for k in range(total) if all(flags[k:])), total)
    if any(flags[:top]):
        imp.warn(events[-1][2], f"the trainable layers of {backbone['type']} are not one block at its top; the "
                                f"{total - top} top ones are counted")
    count = total - top
    return "all" if count == total else (count or None)


def _span(imp, where, total, head, line):
    """Give the backbone's layer positions a LayerSlice names; model.layers counts the backbone's first, then the head."""
    if isinstance(where.owner, Backbone):
        return range(total)[where.start:where.stop]
    if where.start is None and where.stop is None:
        return range(total)
    positions = range(total + head)[where.start:where.stop]
    imp.note(line, imp.reader.line_text(line), "the backbone's layers it names", f"model.layers counts the backbone's "
             f"{total} layers (its input included, as Keras does) and then the head's {head}", None,
             "fit.fine_tune.unfreeze")
    return [k for k in positions if k < total]


def phases(imp, model, layers):
    """Set each backbone's trainable as at the first fit; give the second fit as fit.fine_tune, or None.

    A script that fits a model with a backbone twice is the transfer-learning recipe: the first
    fit is the run (its compile too), the second the planned continue.
    """
    found = [i for i, layer in enumerate(layers) if layer["type"] in pretrained.BACKBONES]
    events = imp.reader.trainable_events
    first = model.phases[0] if model.phases else (model.compile, model.fit, len(events))
    for i in found:
        unfrozen = state(imp, layers, events[:first[2]], i)
        layers[i]["trainable"] = unfrozen == "all"
        if unfrozen not in ("all", None):
            imp.warn(first[1].line if first[1] else model.line, f"{layers[i]['type']} trains its top {unfrozen} "
                     "layers in the first fit; the run trains it frozen (trainable false) and the continue "
                     "unfreezes them")
    if not found or len(model.phases) < 2:
        return None
    model.compile, model.fit = first[0], first[1]
    return fine_tune(imp, model, layers, found[0], first)


def fine_tune(imp, model, layers, index, first):
    """Give the second fit as {"epochs", "unfreeze", "learning_rate"} with a note, or None when it unfreezes nothing."""
    compile_call, fit_call, seen = model.phases[1]
    for _, later, _ in model.phases[2:]:
        imp.warn(later.line, "a third fit is not carried; the run is the first fit and its planned continue the second")
    unfreeze = state(imp, layers, imp.reader.trainable_events[:seen], index)
    if unfreeze is None:
        imp.warn(fit_call.line, f"the second fit trains with {layers[index]['type']} still frozen; it is not carried "
                                "(a continue from the run page trains more epochs)")
        return None
    epochs = _epochs(imp, fit_call, first[1])
    rate = _rate(imp, compile_call, first[0])
    out = {"epochs": epochs, "unfreeze": unfreeze, "learning_rate": rate}
    imp.note(fit_call.line, imp.text(fit_call), f"fit.fine_tune: {epochs} epochs, unfreeze {unfreeze!r}, learning "
             f"rate {rate!r}", f"the second fit, after {layers[index]['type']} is unfrozen and the model recompiled, "
             "is the run's planned continue: the top layers of the backbone become trainable (counted from its top; "
             "BatchNormalization stays in inference mode) and training goes on at the new rate", None, "fit.fine_tune")
    return out


def _given_epochs(call):
    """Give (epochs, initial_epoch) as a fit call writes them (Keras 1's nb_epoch read as epochs)."""
    given = {**dict(zip(kn.FIT_POSITIONAL, call.args)), **call.kwargs} if call is not None else {}
    return given.get("epochs", given.get("nb_epoch", kn.KERAS_FIT["epochs"])), given.get("initial_epoch", 0)


def _epochs(imp, call, first):
    """Give the epochs a fit trains: epochs less initial_epoch (the first fit's epochs for len(history.epoch))."""
    epochs, start = _given_epochs(call)
    if not isinstance(start, int):
        before = _given_epochs(first)[0]
        if isinstance(before, int) and not isinstance(before, bool):
            text = imp.text(start)
            guess = before - 1 if "[-1]" in text else before   # history.epoch[-1] is the last epoch's index
            imp.note(call.line, f"initial_epoch={text}", f"initial_epoch={guess}", "read as where the first fit "
                     f"stopped ({before} epochs): the continue adds the epochs after it", None, "fit.fine_tune.epochs")
            start = guess
    try:
        epochs, start = imp.plain(epochs, call.line), imp.plain(start, call.line)
    except NotStatic as exc:
        imp.warn(call.line, f"fit: {exc} cannot be read without running the script; 1 epoch is planned")
        return 1
    if not isinstance(epochs, int) or not isinstance(start, int) or isinstance(start, bool):
        imp.warn(call.line, "fit: the epochs of the second fit cannot be read; 1 epoch is planned")
        return 1
    if start:
        imp.note(call.line, f"epochs={epochs}, initial_epoch={start}", f"{max(epochs - start, 1)} epochs", "Keras "
                 "trains from initial_epoch up to epochs; the continue counts the epochs it adds", None,
                 "fit.fine_tune.epochs")
    return max(epochs - start, 1)


def _rate(imp, call, first):
    """Give the learning rate the recompile sets (its optimizer's default when it sets none)."""
    if call is None:
        call = first
    given = {**dict(zip(("optimizer",), call.args)), **call.kwargs} if isinstance(call, Call) else {}
    optimizer = python_training.optimizer(imp, given.get("optimizer", "rmsprop"), call)
    for item in imp.reader.notes.values():   # what the recompile's notes change is the continue's rate
        if call is not first and item["line"] in (call.line, getattr(given.get("optimizer"), "line", None)) \
                and str(item.get("field", "")).startswith("compile.optimizer"):
            item["field"] = "fit.fine_tune.learning_rate"
    name = optimizer["type"] if isinstance(optimizer, dict) else catalog.OPTIMIZER_ALIASES.get(optimizer.lower(), optimizer)
    entry = catalog.OPTIMIZERS.get(name)
    rate = optimizer.get("learning_rate") if isinstance(optimizer, dict) else None
    if rate is None:
        rate = entry.param("learning_rate").default if entry else 0.001
    if first is not None and call is not first:
        before = {**dict(zip(("optimizer",), first.args)), **first.kwargs}.get("optimizer", "rmsprop")
        old = python_training.named(imp, before, "optimizers", lambda n: n.lower() in catalog.OPTIMIZER_ALIASES)
        old = catalog.OPTIMIZER_ALIASES.get(str(old).lower(), old)
        extra = {k: v for k, v in optimizer.items() if k not in ("type", "learning_rate")} if isinstance(optimizer, dict) else {}
        if old != name or any(entry and v != entry.param(k).default for k, v in extra.items() if entry.param(k)):
            imp.warn(call.line, f"the recompile's optimizer ({name}) is not carried beyond its learning rate; the "
                                f"continue trains on with the first compile's optimizer ({old}) at that rate")
    return rate
