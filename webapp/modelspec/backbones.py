"""A backbone layer of a spec as Keras layers: what it needs in front (Resizing, channels, scaling) and the `keras.applications` model as one nested block.

The front is built from Keras's own layers only, so the saved model.keras loads in plain Keras
with no custom objects and safe_mode on. The dataset gives pixels in [0, 1] (feed.py scales
them); the front turns them into what the application's own `preprocess_input` makes of [0, 255]
pixels. Keras is imported by the caller (build.py) and handed in.
"""

import math

import numpy as np

from . import pretrained
from .fields import FieldError, SpecError

# Remembered checks, by the layer's settings and input shape: the rows and the output shape.
# Building an application takes a second or more, and the builder checks after every edit.
_MEMO = {}


class BackboneError(Exception):
    """Keras refused to build or load a backbone; build.py words its exception (the cause) as a FieldError."""

    def __init__(self, index, field, where):
        super().__init__(where)
        self.index, self.field, self.where = index, field, where


def weights_path(layer, weights_dir=None, env=None):
    """Give what the application's `weights=` gets: None, a file in Keras's cache, or an upload's file."""
    weights = layer.get("weights")
    if weights is None:
        return None
    if weights == "imagenet":
        rows, _ = pretrained.input_size(layer)
        name = pretrained.weights_file(layer["type"], layer, rows)
        path = pretrained.keras_cache(env) / name
        # A file already in the cache goes in by path, so Keras neither checks its hash nor downloads.
        return str(path) if path.is_file() else "imagenet"
    if weights_dir is None:
        raise SpecError([FieldError(None, "weights", f"Uploaded weights {weights} cannot be read here.")])
    found = sorted(p for p in weights_dir.glob(f"{int(weights)}.*") if p.name.endswith(".h5"))
    if not found:
        raise SpecError([FieldError(None, "weights", f"Uploaded weights {weights} are not on this server any more.")])
    return str(found[0])


def _front(keras, layer, name, shape):
    """Give [(keras layer, note, fixed weights or None)]: resize, grey to RGB and scale (pretrained.front)."""
    return [(getattr(keras.layers, f["type"])(**f["kwargs"]), f["note"], f.get("weights"))
            for f in pretrained.front(layer, name, shape)]


def application(keras, layer, name, weights):
    """Give the keras.applications model of a backbone layer, frozen as the layer says."""
    kind = layer["type"]
    rows, cols = pretrained.input_size(layer)
    kwargs = {k: layer[k] for k in pretrained.BACKBONES[kind].args}
    if pretrained.BACKBONES[kind].takes_name:
        kwargs["name"] = name
    model = getattr(keras.applications, kind)(include_top=False, weights=weights, input_shape=(rows, cols, 3),
                                              pooling=layer.get("pooling"), **kwargs)
    model.trainable = layer.get("trainable", False)
    return model


def _inner_values(model):
    """Give how many values the block's own layers output per sample (for the activation estimate)."""
    total = 0
    for inner in model.layers[1:]:
        for shape in _output_shapes(inner):
            total += math.prod(d for d in shape[1:] if isinstance(d, int))
    return total


def _output_shapes(inner):
    """Give the output shapes of one of the block's layers (none for a layer without a single output)."""
    shape = inner.output.shape if hasattr(inner, "output") else None
    return [shape] if shape is not None else []


def trace(keras, index, layer, name, tensor, weights, weights_dir=None, graph_inputs=None):
    """Give (keras layers, rows, output tensor) of a backbone layer called on `tensor`, or raise SpecError.

    weights=False checks shapes only (remembered in _MEMO); True builds it with its weights.
    graph_inputs: the layer's input names, for a graph's rows (None for a stack).
    """
    shape = tuple(tensor.shape[1:])
    kind = layer["type"]
    if len(shape) != 3 or shape[2] not in (1, 3):
        raise SpecError([FieldError(index, None, f"Layer {index} ({kind}) takes images (height, width, 1 or 3 "
                                                 f"channels); it gets {shape}.")])
    key = (repr(sorted(layer.items())), shape)
    if not weights and key in _MEMO:
        rows, out_shape = _MEMO[key]
        return [None] * len(rows), _with_inputs(rows, graph_inputs), keras.KerasTensor((None, *out_shape))
    front = _front(keras, layer, name, shape)
    found, rows, x = [], [], tensor
    try:
        for keras_layer, note, fixed in front:
            x = keras_layer(x)
            if fixed and weights:   # the caffe Conv2D's constant kernel and bias
                keras_layer.set_weights([np.array(w, "float32") for w in fixed])
            found.append(keras_layer)
            rows.append(_row(index, keras_layer, x, note))
        path = weights_path(layer, weights_dir) if weights else None
        model = application(keras, layer, name, path)
        x = model(x, training=False)
    except SpecError:
        raise
    except Exception as exc:   # a weights file that does not fit, say: Keras names the layer
        raise BackboneError(index, "weights" if weights else None, f"Layer {index} ({kind})") from exc
    found.append(model)
    rows.append({**_row(index, model, x, None), "type": kind, "inner_values": _inner_values(model)})
    rows[-1].pop("added")
    rows[-1].pop("note")
    if len(_MEMO) > 200:
        _MEMO.clear()
    _MEMO[key] = (rows, tuple(x.shape[1:]))
    return found, _with_inputs(rows, graph_inputs), x


def _row(index, keras_layer, x, note):
    """Give the check's row of an added layer (or, edited by the caller, the block's own)."""
    trainable = sum(math.prod(w.shape) for w in keras_layer.trainable_weights)
    return {"index": index, "type": type(keras_layer).__name__, "name": keras_layer.name,
            "output_shape": [None, *x.shape[1:]], "params": int(keras_layer.count_params()),
            "trainable_params": int(trainable), "added": True, "note": note}


def _with_inputs(rows, graph_inputs):
    """Give the rows, each naming its input as a graph's rows do (the first the layer's own inputs)."""
    if graph_inputs is None:
        return [dict(r) for r in rows]
    out, previous = [], list(graph_inputs)
    for r in rows:
        out.append({**r, "inputs": previous})
        previous = [r["name"]]
    return out
