"""Turn a checked Spec into a `keras.Sequential` (a stack) or a functional `keras.Model` (a graph), mapping every error to its layer.

It imports Keras only inside functions (the rooms that may import it at all are listed in
docs/rooms.md and held by tests/unit/test_layers.py): the web process imports TensorFlow on a
thread once it serves (RunService.begin, with KD_WARM_SPARE) or on the first model check, never
when a CLI command or a spawned trainer imports the app.
"""

import contextlib
import math
import os
import re
import sys
import tempfile
import threading

from . import backbones, catalog, graph, inputs, memory, pretrained, shape_memo
from .fields import FieldError, SpecError

_keras = None
_lock = threading.Lock()   # Keras's graph building is not meant to be shared between threads
_keras_lock = threading.Lock()
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def init_keras(gpu=False):
    """Give the keras module, importing TensorFlow once per process.

    gpu=False (the web process) hides every GPU: shape checks need none and must not hold memory a
    run needs. gpu=True (a trainer process) turns memory growth on, so runs can share a card.
    """
    global _keras
    with _keras_lock:   # the web process imports it on a thread at start while a request may ask too
        if _keras is None:
            os.environ.setdefault("KERAS_BACKEND", "tensorflow")
            os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
            with _start_up_noise_dropped():
                with _without_sklearn() if gpu else contextlib.nullcontext():
                    import tensorflow as tf
                    import keras

                gpus = tf.config.list_physical_devices("GPU")
            if gpu:
                for device in gpus:
                    tf.config.experimental.set_memory_growth(device, True)
            elif gpus:
                tf.config.set_visible_devices([], "GPU")
            _keras = keras
    return _keras


# What TensorFlow's C++ side writes to stderr as it starts on a machine without a GPU, whatever
# TF_CPP_MIN_LOG_LEVEL says (absl logs before it is initialised): facts, not faults, yet a newcomer
# reads "E0000 ... failed call to cuInit: CUDA error" on a CPU machine as one.
_NOISE = re.compile(r"All log messages before absl::InitializeLog|oneDNN custom operations are on|Could not find cuda "
                    r"drivers|failed call to cuInit|cpu_feature_guard|To enable the following instructions")


@contextlib.contextmanager
def _start_up_noise_dropped():
    """Hold what is written to stderr (the whole process's, file descriptor 2) meanwhile; then write it back
    but TensorFlow's start-up noise. A line another thread wrote meanwhile comes out late, never lost."""
    sys.stderr.flush()
    held, saved = tempfile.TemporaryFile(), os.dup(2)
    os.dup2(held.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        held.seek(0)
        kept = b"".join(line for line in held if not _NOISE.search(line.decode("utf-8", "replace")))
        held.close()
        while kept:
            kept = kept[os.write(2, kept):]


@contextlib.contextmanager
def _without_sklearn():
    """Import TensorFlow and Keras without Keras's scikit-learn wrappers importing scikit-learn.

    Keras imports its optional `keras.wrappers` (SKLearnClassifier...) with TensorFlow, and they
    import scikit-learn when it is installed (it is: the built-in digits come from it): 1.4 of the
    7.7 CPU seconds the import takes in each trainer process, for wrappers nothing here uses.
    Marked missing meanwhile, scikit-learn is left out as Keras does when it is not installed; the
    mark goes after, so whatever needs scikit-learn later imports it as usual. The mark is the
    whole process's: only a trainer, importing on its main thread before anything else runs, uses
    it; the web process imports on a thread beside requests that may load the digits meanwhile.
    """
    hide = "sklearn" not in sys.modules
    if hide:
        sys.modules["sklearn"] = None   # `import sklearn` raises ImportError: Keras's "not installed"
    try:
        yield
    finally:
        if hide and sys.modules.get("sklearn", 0) is None:
            del sys.modules["sklearn"]


def keras_loaded():
    """Say whether this process has imported TensorFlow already (init_keras would answer at once)."""
    return _keras is not None


_IMPORT_THREAD = "kd-import-keras"


def warm_in_background():
    """Import TensorFlow on a thread of this (web) process, so the first model check does not wait for it."""
    threading.Thread(target=init_keras, name=_IMPORT_THREAD, daemon=True).start()


def importing_in_background():
    """Say whether warm_in_background's import is still going on (an exit now would crash in it)."""
    return any(thread.name == _IMPORT_THREAD and thread.is_alive() for thread in threading.enumerate())


def _kwargs(layer):
    return {k: tuple(v) if isinstance(v, list) else v for k, v in layer.items() if k not in ("type", "name", "inputs")}


def make_layer(layer, name=None):
    """Give a new Keras layer for a canonical layer dict."""
    keras = init_keras()
    kwargs = _kwargs(layer)
    if "layer" in kwargs:   # a wrapper: Bidirectional, TimeDistributed
        kwargs["layer"] = make_layer(layer["layer"])
    if name:
        kwargs["name"] = name
    return getattr(keras.layers, layer["type"])(**kwargs)


def make_optimizer(optimizer):
    """Give a new Keras optimizer for a canonical optimizer dict, its learning-rate schedule included."""
    keras = init_keras()
    params = {k: v for k, v in optimizer.items() if k not in ("type", "schedule")}
    schedule = optimizer.get("schedule")
    if schedule:
        settings = {k: v for k, v in schedule.items() if k != "type"}
        params["learning_rate"] = getattr(keras.optimizers.schedules, schedule["type"])(
            initial_learning_rate=params["learning_rate"], **settings)
    return getattr(keras.optimizers, optimizer["type"])(**params)


def keras_message(exc):
    """Give the sentence that matters from a Keras exception, without colours or call dumps."""
    text = _ANSI.sub("", str(exc)).strip()
    if "Exception encountered when calling" in text:
        parts = [p.strip() for p in text.split("\n\n") if p.strip()]
        text = parts[1] if len(parts) > 1 else parts[0]
    text = text.split("\n")[0]
    if "output size would be zero or negative" in text:
        text = ("the window is larger than its input, so the output would be empty. "
                "Use padding=\"same\", a smaller kernel or pool size, or fewer pooling layers before it")
    return text[:400]


def shape_text(shape):
    """Give a per-sample shape as Keras prints it: (8, 8, 1), (10,)."""
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _precheck(index, layer, shape):
    """Give a FieldError when the layer cannot take an input of this shape (per sample), else None."""
    entry = catalog.LAYERS[layer["type"]]
    where = f"layer {index} gets {shape_text(shape)}"
    if layer["type"] == "TimeDistributed":
        if len(shape) < 2:
            return FieldError(index, None, f"TimeDistributed needs (timesteps, ...) per sample; {where}. "
                                           "Use Reshape or RepeatVector before it.")
        inner = _precheck(index, layer["layer"], shape[1:])
        return inner and FieldError(index, "layer", f"TimeDistributed applies {layer['layer']['type']} to each "
                                                    f"timestep of {shape_text(shape[1:])}: {inner.message}")
    if layer["type"] == "Permute" and sorted(layer["dims"]) != list(range(1, len(shape) + 1)):
        return FieldError(index, "dims", f"Permute: dims {layer['dims']} must order the axes 1..{len(shape)} "
                                         f"(each once); {where}.")
    if entry.input_rank and len(shape) != entry.input_rank:
        hint = ""
        if entry.input_rank == 2 and len(shape) == 3:
            hint = f" Add Reshape with target_shape [{shape[0]}, {shape[1] * shape[2]}] before it."
        elif entry.input_rank == 3 and len(shape) == 1:
            hint = " Use Reshape to give it height, width and channels, or use Dense instead."
        elif entry.input_rank == 2 and len(shape) == 1:
            hint = " Set return_sequences=true on the recurrent layer before it, or use Reshape."
        return FieldError(index, None, f"{layer['type']} needs {entry.input_rank}-D input per sample "
                                       f"({entry.input_hint}); {where}.{hint}")
    if layer["type"] == "Reshape" and None not in shape:
        size, target = math.prod(shape), layer["target_shape"]
        known = math.prod(d for d in target if d != -1)
        if (-1 not in target and known != size) or (-1 in target and size % known):
            return FieldError(index, "target_shape", f"Reshape: target_shape {target} cannot hold the "
                                                     f"{size} values of {shape_text(shape)}; {where}.")
    return None


@contextlib.contextmanager
def _no_weights(keras):
    """Build layers with shapes but no weight values: a check of a 10-billion-parameter model
    takes milliseconds and no memory."""
    from keras.src.backend.common import global_state

    with keras.StatelessScope(initialize_variables=False):
        try:
            yield
        finally:
            # Keras queues uninitialized variables for later; ours never will be, so drop them
            # (the queue is per thread) rather than let every check grow it.
            global_state.set_global_attribute("uninitialized_variables", [])


def model_input(keras, input_shape):
    """Give the model's `keras.Input`: an empty per-sample shape is a text dataset's, one string per sample.

    `shape=()` rather than the Keras examples' `(1,)`: TextVectorization takes either, and the
    saved model then predicts on `np.array(["a great film"], dtype=object)` as it is.
    """
    shape = tuple(input_shape)
    return keras.Input(shape=shape, dtype="string") if shape == () else keras.Input(shape=shape)


class Traced:
    """A spec's layers called on a `keras.Input`: the Keras layers, the summary rows, the tensors."""

    def __init__(self, inputs):
        self.inputs, self.layers, self.rows, self.tensors = inputs, [], [], {graph.INPUT: inputs}


def trace(spec, input_shape, weights=True):
    """Give (keras layers, rows) for the spec on this per-sample input shape, or raise SpecError.

    rows are `model.summary()`'s: index, type, name, output_shape, params (and inputs, for a
    graph); a backbone adds rows with "added": true and a "note" for the layers it needs in front.
    weights=False builds shapes only (for checks); those layers cannot be trained.
    """
    traced = _trace(spec, input_shape, weights)
    return traced.layers, traced.rows


def _trace(spec, input_shape, weights, weights_dir=None):
    """Give the Traced spec: each layer called on its inputs' tensors, in the canonical order."""
    keras = init_keras()
    names, sources = graph.wiring(spec.layers)
    with _lock, (contextlib.nullcontext() if weights else _no_weights(keras)):
        traced = Traced(model_input(keras, input_shape))
        memo = not weights and not any(layer["type"] == "RandomCrop" for layer in spec.layers)
        for index, (layer, name, wanted) in enumerate(zip(spec.layers, names, sources)):
            tensors = [traced.tensors[n] for n in wanted]
            if layer["type"] in pretrained.BACKBONES:
                try:
                    found, rows, out = backbones.trace(keras, index, layer, name, tensors[0], weights, weights_dir,
                                                       wanted if spec.is_graph else None)
                except backbones.BackboneError as exc:
                    raise SpecError([FieldError(exc.index, exc.field, f"{exc.where}: {keras_message(exc.__cause__)}")]) from exc
                traced.tensors[name] = out
                traced.layers.extend(found)
                traced.rows.extend(rows)
                continue
            key = shape_memo.key(layer, tensors) if memo else None
            if key in shape_memo.SHAPES:
                out_shape, params, trainable, dtype = shape_memo.SHAPES[key]
                out, keras_layer = keras.KerasTensor((None, *out_shape), dtype=dtype), None
            else:
                keras_layer, out = _call(index, layer, name, tensors, wanted)
                out_shape, params = tuple(out.shape[1:]), int(keras_layer.count_params())
                trainable = sum(math.prod(w.shape) for w in keras_layer.trainable_weights)
                shape_memo.remember(key, (out_shape, params, trainable, out.dtype))
            traced.tensors[name] = out
            traced.layers.append(keras_layer)
            row = {"index": index, "type": layer["type"], "name": name, "output_shape": [None, *out_shape],
                   "params": params, "trainable_params": trainable}
            traced.rows.append({**row, "inputs": wanted} if spec.is_graph else row)
        _check_uncropped(keras, spec, traced, names, sources)
    return traced


def _call(index, layer, name, tensors, wanted):
    """Give (the Keras layer, its output tensor on its input tensors), or raise SpecError naming the layer."""
    shapes = [tuple(t.shape[1:]) for t in tensors]
    merge = graph.merge_arity(layer["type"]) is not None
    problem = None if merge else _precheck(index, layer, shapes[0])
    if problem:
        raise SpecError([problem])
    try:
        keras_layer = make_layer(layer, name)
        x = keras_layer(tensors if merge else tensors[0])
    except Exception as exc:  # Keras raises ValueError, TypeError, even tf errors
        if merge:
            given = " and ".join(f"{shape_text(s)} from {n}" for s, n in zip(shapes, wanted))
            raise SpecError([FieldError(index, "inputs", f"Layer {index} ({layer['type']} '{name}') cannot merge "
                                        f"its inputs {wanted}: it gets {given}. {_merge_rule(layer)} "
                                        f"(Keras: {keras_message(exc)})")]) from exc
        raise SpecError([FieldError(index, None, f"Layer {index} ({layer['type']}) on input "
                                    f"{shape_text(shapes[0])}: {keras_message(exc)}")]) from exc
    out = tuple(x.shape[1:])
    if any(d == 0 for d in out if d is not None):
        raise SpecError([FieldError(index, None, f"Layer {index} ({layer['type']}) turns {shape_text(shapes[0])} "
                                    f"into {shape_text(out)}, which is empty. Use padding=\"same\" or a smaller window.")])
    return keras_layer, x


def _merge_rule(layer):
    """Say which input shapes a merge layer accepts."""
    if layer["type"] == "Concatenate":
        return f"Concatenate needs the same shape on every axis but its axis ({layer['axis']})."
    if layer["type"] == "Dot":
        return f"Dot needs equal sizes on its axes {layer['axes']}."
    return f"{layer['type']} needs inputs of the same shape."


def _check_uncropped(keras, spec, traced, names, sources):
    """Refuse a RandomCrop whose later layers cannot take the uncropped image.

    Keras 3 (up to at least 3.15, keras-team/keras#21868) passes images through RandomCrop
    uncropped when not training, so evaluate and predict feed the later layers a bigger image.
    """
    crops = [i for i, layer in enumerate(spec.layers) if layer["type"] == "RandomCrop"]
    if not crops:
        return
    tensors = {graph.INPUT: model_input(keras, traced.inputs.shape[1:])}
    for index, (keras_layer, name, wanted) in enumerate(zip(traced.layers, names, sources)):
        inputs = [tensors[n] for n in wanted]
        try:
            merge = graph.merge_arity(spec.layers[index]["type"]) is not None
            tensors[name] = inputs[0] if index in crops else keras_layer(inputs if merge else inputs[0])
        except Exception as exc:
            raise SpecError([FieldError(crops[0], "type", f"Layer {crops[0]} (RandomCrop): Keras 3 leaves images "
                             "uncropped at evaluate and predict time, and then layer "
                             f"{index} ({spec.layers[index]['type']}) cannot take them: {keras_message(exc)}. "
                             "Use Resizing, or only layers that take any image size (convolutions, "
                             "GlobalAveragePooling2D) after it.")]) from exc


def build_model(spec, input_shape, name=None, weights_dir=None):
    """Give a `keras.Sequential` for a stack, a functional `keras.Model` for a graph, with the spec's
    layer names (Keras's defaults where the spec gives none). weights_dir: where uploaded backbone
    weights are kept (the data dir's weights/)."""
    keras = init_keras()
    traced = _trace(spec, input_shape, weights=True, weights_dir=weights_dir)
    with _lock:
        if spec.is_graph:
            output = traced.tensors[traced.rows[-1]["name"]]
            return keras.Model(traced.inputs, output, name=name or "functional")
        return keras.Sequential([model_input(keras, input_shape), *traced.layers], name=name or "sequential")


def _last_activation(spec):
    """Give the activation the output ends with, looking back through Dropout-like layers."""
    names, sources = graph.wiring(spec.layers)
    index_of = {name: i for i, name in enumerate(names)}
    index = len(spec.layers) - 1
    while index is not None:
        layer = spec.layers[index]
        if layer["type"] in ("Dense", "Activation"):
            return layer["activation"]
        if layer["type"] == "Softmax":
            return "softmax"
        if layer["type"] not in ("Dropout", "ActivityRegularization"):
            return None
        index = index_of.get(sources[index][0])
    return None


def check_output(spec, rows, num_classes):
    """Give warnings, or raise SpecError when the output cannot meet the loss and the labels."""
    if not spec.compile or not rows:
        return []
    last = rows[-1]
    out, index, loss = last["output_shape"][1:], last["index"], spec.compile["loss"]
    mode = spec.label_mode
    unit_field = "units" if spec.layers[-1]["type"] == "Dense" else None
    if len(out) != 1:
        raise SpecError([FieldError(index, None, f"The model's output is {shape_text(tuple(out))} per sample; a classifier "
                                    f"needs a flat ({num_classes if mode != 'binary' else 1},). Add Flatten or "
                                    f"GlobalAveragePooling before the last Dense.")])
    width, activation = out[0], _last_activation(spec)
    if mode == "binary":
        if num_classes != 2:
            raise SpecError([FieldError(None, "compile.loss", f"binary_crossentropy is for two classes; this dataset has "
                                        f"{num_classes}. Use categorical_crossentropy (one-hot labels) or "
                                        f"sparse_categorical_crossentropy (integer labels).")])
        if width != 1:
            raise SpecError([FieldError(index, unit_field, f"binary_crossentropy needs one output unit with sigmoid; "
                                        f"the last layer gives {width}.")])
    elif width != num_classes:
        raise SpecError([FieldError(index, unit_field, f"The last layer gives {width} outputs but the dataset has "
                                    f"{num_classes} classes: set units to {num_classes}.")])
    if activation == "softmax" and width == 1:
        raise SpecError([FieldError(index, "activation", "softmax over one unit is always 1, so nothing can be learned: use sigmoid.")])
    wanted = "sigmoid" if mode == "binary" else "softmax"
    if loss in catalog.PROBABILISTIC_LOSSES and activation != wanted:
        return [f"The last layer's activation is {activation or 'not set'}, not {wanted}: {loss} expects probabilities."]
    return []


def check_input_kind(spec, dataset):
    """Raise SpecError unless the layers on the input suit the dataset's kind: TextVectorization on texts, and only there.

    A text dataset's samples are strings, which no other layer takes; the trainer adapts that
    TextVectorization on the training texts before the first batch.
    """
    names, sources = graph.wiring(spec.layers)
    on_input = [i for i, wanted in enumerate(sources) if graph.INPUT in wanted]
    if dataset.get("kind") == "text":
        for i in on_input:
            if spec.layers[i]["type"] != "TextVectorization":
                raise SpecError([FieldError(i, "type", f"Layer {i} ({spec.layers[i]['type']}) gets the dataset's "
                                            f"texts, which are strings: a model on a text dataset starts with "
                                            f"TextVectorization (it turns each text into token indexes).")])
        return
    for i, layer in enumerate(spec.layers):
        if layer["type"] == "TextVectorization":
            raise SpecError([FieldError(i, "type", f"Layer {i} (TextVectorization) takes strings, and only as the "
                                        f"first layer of a model on a text dataset; "
                                        f"{dataset.get('name') or dataset.get('id') or 'this dataset'} holds "
                                        f"{dataset.get('kind') or 'image'}s.")])


def summarize(spec, dataset):
    """Give the `POST /api/models/check` answer for a checked spec on a dataset, or raise SpecError."""
    check_input_kind(spec, dataset)
    inputs.check_vocabulary(spec, dataset)
    _, rows = trace(spec, dataset["input_shape"], weights=False)
    warnings = check_output(spec, rows, dataset["num_classes"])
    # A check without `fit` is estimated at the batch size fit would take by default.
    batch_size = spec.fit["batch_size"] if spec.fit else next(p.default for p in catalog.FIT if p.name == "batch_size")
    return {"ok": True, "layers": rows, "total_params": sum(r["params"] for r in rows),
            "trainable_params": sum(r["trainable_params"] for r in rows),
            "activations": memory.estimate(spec.layers, rows, dataset["input_shape"], batch_size),
            "warnings": warnings}
