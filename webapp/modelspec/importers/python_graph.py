"""The functional API in pasted Python: `keras.Input`, layers called on tensors, merges, `keras.Model`.

`python_source.Reader` hands each call here first: `keras.Input(...)` stays a call (a Sequential
list may hold it) and stands for the input wherever a tensor is taken, `layers.Conv2D(...)(x)` a Tensor made by that layer, `layers.add([x, y])` a merge, and
`keras.Model(inputs, outputs)` a Model whose items are the Tensors leading to the output, in the
order they were made (which is topological). Several inputs or outputs, a layer object called twice
(shared) are refused with the line and the reason. A Sequential model called on a tensor
(`x = data_augmentation(inputs)`) has its layers put in line, with a note; a model already compiled or
fitted called on a tensor makes the new keras.Model an inference wrapper around it (Keras 1's
`Model(input=, output=)` too): not a model of its own, but the preprocessing the importer puts in
front of the model it wraps (`end_to_end_model = keras.Model(inputs, model(vectorize_layer(inputs)))`).
Nothing is run.
"""

import itertools
from dataclasses import dataclass, field

from .. import catalog, graph
from . import old_keras
from .import_answer import refuse
from .python_values import Backbone, Call, Model, Ref

# keras.layers' merge functions and the layer class each one builds.
MERGE_FUNCTIONS = {"add": "Add", "subtract": "Subtract", "multiply": "Multiply", "average": "Average",
                   "maximum": "Maximum", "minimum": "Minimum", "concatenate": "Concatenate", "dot": "Dot"}
_made = itertools.count()


@dataclass(eq=False)
class Tensor:
    """A symbolic tensor of the script: made by `layer` (a Call; None for keras.Input) from `sources`."""

    layer: Call | None
    sources: list
    line: int
    input_call: Call | None = None   # for the input: its keras.Input(...) call
    model: Model | None = None       # a compiled or fitted model called on `sources` (an inference wrapper's)
    seq: int = field(default_factory=lambda: next(_made))


def call(reader, call_):
    """Give the functional-API value of a call (a Tensor or a Model), or None when it is no such call."""
    func = call_.func
    if isinstance(func, Model) and _tensors(reader, call_.args[:1]):
        return _called_model(reader, func, call_)
    if isinstance(func, Call) and func.name[:1].isupper() and _tensors(reader, call_.args[:1]):
        return _apply(reader, func, call_)
    if isinstance(func, Backbone) and _tensors(reader, call_.args[:1]):
        if "training" in call_.kwargs:
            given = call_.kwargs["training"]
            reader.note(call_.line, f"training={given if isinstance(given, bool) else reader.text(given)}", "inference-mode "
                        "BatchNormalization", f"the dashboard keeps {func.call.name}'s BatchNormalization layers in "
                        "inference mode itself, in both phases (a training=False call alone is not enough in Keras 3)")
        return _apply(reader, func.call, Call(func.call, call_.args[:1], {}, call_.node))
    if not isinstance(func, Ref):
        return None
    if call_.name == "preprocess_input" and "applications" in func.path and _tensors(reader, call_.args[:1]):
        reader.note(call_.line, reader.text(call_), "the backbone's own preprocessing", "the dashboard puts in front "
                    "of a backbone exactly the scaling its preprocess_input does, from Keras layers")
        return _tensor(reader, call_.args[0])
    if call_.name in MERGE_FUNCTIONS and func.in_keras("layers") and _tensors(reader, call_.args[:1]):
        layer = Call(Ref(f"keras.layers.{MERGE_FUNCTIONS[call_.name]}"), list(call_.args[1:]),
                     dict(call_.kwargs), call_.node)
        return _apply(reader, layer, Call(layer, call_.args[:1], {}, call_.node))
    if call_.name in ("Model", "Functional") and _tensors(reader, list(call_.args[:2]) + list(call_.kwargs.values())):
        return _model(reader, call_)
    return None


def backbone_tensor(reader, backbone, attr):
    """Give base.input (its own input, or its input_tensor=) or base.output (the backbone applied to it)."""
    given = _tensor(reader, backbone.input_tensor)
    key = ("input", id(backbone))
    if given is None and key not in reader.graph_layers:
        reader.graph_layers[key] = Tensor(None, [], backbone.call.line)
    source = given or reader.graph_layers[key]
    if attr == "input":
        return source
    made = reader.graph_layers.get(("output", id(backbone)))
    if made is None:
        made = _apply(reader, backbone.call, Call(backbone.call, [source], {}, backbone.call.node))
        reader.graph_layers[("output", id(backbone))] = made
    return made


def _is_input(value):
    """Say whether a value is a keras.Input(...) call (which a Sequential list may hold too)."""
    return isinstance(value, Call) and isinstance(value.func, Ref) and value.name in ("Input", "InputLayer") \
        and value.func.path.split(".")[0] in ("keras", "tf", "tensorflow", "layers", "Input", "InputLayer")


def _tensor(reader, value):
    """Give a value as a Tensor: itself, or the input Tensor of a keras.Input(...) call; else None."""
    if _is_input(value):
        key = ("input", id(value))
        if key not in reader.graph_layers:
            reader.graph_layers[key] = Tensor(None, [], value.line, value)
        return reader.graph_layers[key]
    return value if isinstance(value, Tensor) else None


def _tensors(reader, values):
    """Say whether any value is a Tensor (or keras.Input) or a list holding one."""
    reader.cost.charge(sum(len(v) for v in values if isinstance(v, (list, tuple))))
    return any(isinstance(v, Tensor) or _is_input(v) or isinstance(v, (list, tuple))
               and any(isinstance(i, Tensor) or _is_input(i) for i in v) for v in values)


def _apply(reader, layer, call_):
    """Give the Tensor a layer object makes when called on its input(s); refuse a second call of it."""
    used = reader.graph_layers
    if id(layer) in used:
        refuse(None, "source", f"Line {call_.line}: the layer {reader.text(layer)} made on line {layer.line} is "
                               f"called again (it was first called on line {used[id(layer)]}): a shared layer "
                               "cannot be imported; give each call its own layer.")
    used[id(layer)] = call_.line
    given = call_.args[0] if call_.args else call_.kwargs.get("inputs")
    sources = [_tensor(reader, s) for s in (given if isinstance(given, (list, tuple)) else [given])]
    if not all(sources):
        refuse(None, "source", f"Line {call_.line}: {reader.text(call_)} takes something that is not a layer's "
                               "output or the input; it cannot be read without running the script.")
    return Tensor(layer, sources, call_.line)


def _called_model(reader, model, call_):
    """Give the Tensor a model called on a tensor makes: its layers in line, or (compiled or fitted) a wrapped model."""
    used = reader.graph_layers
    if id(model) in used:
        refuse(None, "source", f"Line {call_.line}: the model of line {model.line} is called again (first on line "
                               f"{used[id(model)]}): a shared model cannot be imported.")
    used[id(model)] = call_.line
    source = _tensor(reader, call_.args[0])
    if source is None:
        refuse(None, "source", f"Line {call_.line}: {reader.text(call_)} takes something that is not a layer's "
                               "output or the input; it cannot be read without running the script.")
    if model.compile or model.fit:
        return Tensor(None, [source], call_.line, model=model)
    if model.graph:
        refuse(None, "source", f"Line {call_.line}: the functional model of line {model.line} is called as a layer "
                               "(a nested model); only one model can be imported. Call its layers directly instead.")
    model.nested = True
    reader.note(call_.line, reader.text(call_), "its layers in line", f"the Sequential model of line {model.line} "
                "is called as a layer: the imported model holds its layers in its place, in order")
    for item in model.items:
        if _is_input(item):
            continue
        if not (isinstance(item, Call) and item.name[:1].isupper()):
            refuse(None, "source", f"Line {getattr(item, 'line', model.line)}: a layer of the Sequential model of "
                                   f"line {model.line} cannot be read without running the script.")
        source = _apply(reader, item, Call(item, [source], {}, call_.node))
    return source


def _one(reader, value, what, line):
    """Give the one Tensor of a model's inputs or outputs; refuse several."""
    items = [_tensor(reader, v) for v in (value if isinstance(value, (list, tuple)) else [value])]
    if len(items) != 1 or items[0] is None:
        count = f"{len(items)} {what}" if len(items) != 1 else f"{what} that cannot be read"
        refuse(None, "source", f"Line {line}: keras.Model(...) has {count}; only models with one input "
                               "(the dataset's) and one output can be imported.")
    return items[0]


def _model(reader, call_):
    """Give the Model of keras.Model(inputs, outputs): the layers leading from its input to its output."""
    inputs = call_.args[0] if call_.args else call_.kwargs.get("inputs", call_.kwargs.get("input"))
    outputs = call_.args[1] if len(call_.args) > 1 else call_.kwargs.get("outputs", call_.kwargs.get("output"))
    for old in ("input", "output"):
        if old in call_.kwargs:
            reader.marker("keras1", call_.line, f"Model({old}=...)")
            reader.note(call_.line, f"{old}=...", f"{old}s=...", f"Keras 1's Model({old}=...) is Keras 2 and 3's "
                        f"Model({old}s=...)")
    entry, exit_ = _one(reader, inputs, "inputs", call_.line), _one(reader, outputs, "outputs", call_.line)
    if entry.layer is not None:
        refuse(None, "source", f"Line {call_.line}: the model's inputs must be a keras.Input(...).")
    seen, todo = {}, [exit_]
    while todo:
        tensor = todo.pop()
        reader.cost.charge(1)
        if tensor.seq in seen or tensor.layer is None and tensor.model is None:
            if tensor.layer is None and tensor.model is None and tensor is not entry:
                refuse(None, "source", f"Line {tensor.line}: the model uses a second keras.Input; only models "
                                       "with one input (the dataset's) can be imported.")
            continue
        seen[tensor.seq] = tensor
        todo.extend(tensor.sources)
    wrapped = [t for t in seen.values() if t.model is not None]
    if wrapped:
        return _wrapper(reader, call_, wrapped, seen)
    model = Model(call_.line, graph=True)
    model.items.extend(seen[k] for k in sorted(seen))
    reader.models.append(model)
    return model


def _wrapper(reader, call_, wrapped, seen):
    """Give the inference wrapper keras.Model(inputs, model(pre(inputs))): its items are `pre`, a chain."""
    if len(wrapped) > 1:
        refuse(None, "source", f"Line {call_.line}: keras.Model(...) calls {len(wrapped)} trained models; only "
                               "one model can be imported.")
    inner = wrapped[0]
    front, tensor = [], inner.sources[0]
    while tensor.layer is not None:
        if len(tensor.sources) != 1:
            refuse(None, "source", f"Line {tensor.line}: the layers in front of the model of line {inner.model.line} "
                                   "merge branches; only a chain of layers in front of it can be imported.")
        front.insert(0, tensor)
        tensor = tensor.sources[0]
    after = [t for t in seen.values() if t.seq > inner.seq]
    if after:
        reader.warn(after[0].line, f"the layers after the model of line {inner.model.line} in the keras.Model of "
                                   f"line {call_.line} are not carried; only the layers in front of it are")
    wrapper = Model(call_.line, graph=True, wraps=inner.model)
    wrapper.items.extend(front)
    reader.wrappers.append(wrapper)
    return wrapper


def spec_layers(importer, model, front=()):
    """Give a functional Model's layers as spec dicts, each with its name and inputs.

    front: Tensors of a chain put in front of the model (an inference wrapper's preprocessing): the
    model's input layers take the last of them.
    """
    items = [*front, *model.items]
    layers, index = [], {t.seq: i for i, t in enumerate(items)}
    for tensor in items:
        layer = importer.layer(tensor.layer, len(layers))
        if layer is None:
            refuse(len(layers), "type", f"Line {tensor.line}: an input layer is called on a tensor; the model "
                                        "has one input, keras.Input(...).")
        if isinstance(tensor.layer.kwargs.get("name"), str):
            layer["name"] = tensor.layer.kwargs["name"]
        layers.append(layer)
        importer.layer_lines.append(tensor.line)
    entry = next((s for t in items for s in t.sources if s.input_call is not None), None)
    if entry is not None:
        importer.input_note(entry.input_call)   # the dataset gives the input shape
    names = graph.layer_names(layers)
    for i, (layer, name, tensor) in enumerate(zip(layers, names, items)):
        layer["name"] = name
        start = names[len(front) - 1] if front and i >= len(front) else graph.INPUT
        layer["inputs"] = [names[index[s.seq]] if s.seq in index else start for s in tensor.sources]
    return layers


def front(imp, model):
    """Give the Tensors an inference wrapper puts in front of the model (catalog layers), noting the wrapper."""
    out = []
    for wrapper in imp.reader.wrappers:
        if wrapper.wraps is not model:
            imp.warn(wrapper.line, f"the keras.Model of line {wrapper.line} wraps a model that is not the one "
                                   f"imported (line {model.line}); ignored")
            continue
        if out:
            imp.warn(wrapper.line, f"a second wrapper of the model (line {wrapper.line}) is ignored")
            continue
        kept = [t for t in wrapper.items if old_keras.CLASSES.get(t.layer.name, t.layer.name) in catalog.LAYERS]
        for tensor in wrapper.items:
            if tensor not in kept:
                imp.warn(tensor.line, f"{tensor.layer.name or imp.text(tensor.layer)} in front of the model is "
                                      "not a layer the catalog has; left out")
        names = ", ".join(t.layer.name for t in kept)
        how = ("the imported model is that one with the wrapper's preprocessing in front, so it takes what "
               "the wrapper takes" if kept else "the imported model is that one, as it was trained")
        imp.note(wrapper.line, imp.reader.line_text(wrapper.line), f"{names} in front of the model" if kept
                 else "the model it wraps", f"this keras.Model is an inference wrapper around the model of line "
                 f"{model.line}, which is the one compiled and fitted: {how}")
        out = kept or [None]
    return [t for t in out if t is not None]
