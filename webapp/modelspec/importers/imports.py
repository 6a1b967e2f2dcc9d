"""Keras JSON (`model.to_json()`) and pasted Python -> a canonical spec; nothing is ever executed.

Everything that reaches the spec passes the catalog and `validate`, so a Lambda layer or a custom
object can never slip through to Keras's own deserializer. Pure: no Keras, no Flask.
"""

import json

from .. import catalog, keras_names as kn
from . import json_graph, old_keras
from .import_answer import finish, note, refuse, shape_note
from .python_import import from_python
from ..fields import FieldError, SpecError

MAX_SOURCE = 1_000_000   # characters; a Keras JSON of 200 layers is well under 300 kB
# Python costs more before the importer reads a line of it: `ast.parse` of dense literals takes
# ~470 bytes and ~4 µs of CPU per character (1 MB: 470 MB, 3.3 s). Keras's longest examples are
# under 40 kB; 200 kB parses in at most ~95 MB and ~0.8 s.
MAX_PYTHON_SOURCE = 200_000
FORMATS = ("keras_json", "python")


def import_source(fmt, source, keras_version=None):
    """Give {"model", "compile", "fit", "warnings", "notes"...} for a source in `fmt`, or raise SpecError.

    keras_version: read a Python script as this Keras generation (old_keras.GENERATIONS); None detects it.
    """
    if keras_version is not None and keras_version not in old_keras.GENERATIONS:
        raise SpecError([FieldError(None, "keras_version", f"keras_version must be one of "
                                    f"{', '.join(old_keras.GENERATIONS)}, or null; got {keras_version!r:.40}.")])
    if fmt not in FORMATS:
        raise SpecError([FieldError(None, "format", f"format must be one of {', '.join(FORMATS)}; got {fmt!r:.40}.")])
    if not isinstance(source, str) or not source.strip():
        raise SpecError([FieldError(None, "source", "source must be the text to import: Keras JSON or Python.")])
    most = MAX_SOURCE if fmt == "keras_json" else MAX_PYTHON_SOURCE
    if len(source) > most:
        raise SpecError([FieldError(None, "source", f"source is {len(source):,} characters; at most "
                                    f"{most:,} are accepted for {fmt}.")])
    if fmt == "keras_json":
        return from_keras_json(source)
    return from_python(source, keras_version)


def from_keras_json(text):
    """Give the import answer for `model.to_json()` output (Keras 3, or Keras 2's older form)."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        where = f" (line {exc.lineno}, column {exc.colno})" if hasattr(exc, "lineno") else ""
        raise SpecError([FieldError(None, "source", f"This is not valid JSON{where}: "
                                    f"{getattr(exc, 'msg', 'nested too deeply')}.")]) from None
    if not isinstance(data, dict) or "class_name" not in data:
        raise SpecError([FieldError(None, "source", "This JSON is not a Keras model: expected the output of "
                                    "model.to_json(), an object with class_name \"Sequential\".")])
    kind = data.get("class_name")
    if kind not in ("Sequential", *json_graph.FUNCTIONAL):
        raise SpecError([FieldError(None, "source", f"Only Sequential and functional models can be imported; "
                                    f"this is a {kind!r:.40}.")])
    config = data.get("config")
    warnings, layers = Report(), []
    if kind in json_graph.FUNCTIONAL:
        layers = json_graph.functional_layers(config, json_layer, warnings)
        return _finish_json(data, layers, warnings)
    raw = config.get("layers") if isinstance(config, dict) else config
    if isinstance(config, list):
        warnings.notes.append(note(None, "config: [layers]", "config: {\"layers\": [...]}", "Keras 1 and 2.0–2.2 "
                                   "wrote a Sequential model's config as the list of its layers"))
    if not isinstance(raw, list):
        raise SpecError([FieldError(None, "source", "The Sequential model has no \"layers\" list in its config.")])
    for item in raw:
        layer = json_layer(item, len(layers), warnings)
        if layer is not None:
            layers.append(layer)
    return _finish_json(data, layers, warnings)


def _finish_json(data, layers, warnings):
    """Give the import answer for a Keras JSON's layers, with its compile_config read."""
    config = data.get("compile_config")
    compile_spec = json_compile(config, warnings) if isinstance(config, dict) and config else None   # {}: not compiled
    if compile_spec and compile_spec["loss"] is None:
        warnings.append("compile has no loss, so compile is left out; choose a loss in the builder")
        compile_spec = None
    notes = warnings.notes + [note(None, "", "left as is", w) for w in warnings]
    return finish(layers, compile_spec, None, warnings, notes=notes)


class Report(list):
    """The warnings of a Keras JSON import (texts), with the notes of what was translated beside them."""

    def __init__(self):
        super().__init__()
        self.notes = []


def _check_origin(item, index, field, what):
    """Refuse a serialized object that Keras did not define itself (a custom or foreign class)."""
    module, registered = item.get("module"), item.get("registered_name")
    if module is not None and str(module).split(".")[0] != "keras":
        refuse(index, field, f"{what} is a custom object from module '{module!s:.60}'; only Keras's own "
                             "objects can be imported.")
    if isinstance(registered, str) and ">" in registered:
        refuse(index, field, f"{what} is a custom object registered as '{registered:.60}'; only Keras's "
                             "own objects can be imported.")


def json_layer(item, index, warnings, inner=None):
    """Give one serialized Keras layer as a spec layer dict, None for an InputLayer; refuse the rest.

    inner: the wrapper's `layer` Param when this layer is wrapped (Bidirectional, TimeDistributed).
    """
    if not isinstance(item, dict) or not isinstance(item.get("class_name"), str):
        refuse(index, None, f"Layer {index} is not a serialized Keras layer (no class_name).")
    kind, config = item["class_name"], item.get("config") or {}
    _check_origin(item, index, "type", f"Layer {index} ({kind:.60})")
    if isinstance(config, dict):
        kind, config, changes = old_keras.translate_layer(kind, config, _brief)
        warnings.notes.extend(note(None, was, now, f"layer {index}: {why}", index, field)
                              for was, now, why, field in changes)
    if kind in kn.CODE_LAYERS:
        refuse(index, "type", f"Layer {index} is a {kind} layer: it holds Python code, which is never "
                              "imported or run. Replace it with layers from the catalog.")
    if kind == "InputLayer" and not inner:
        shape = config.get("batch_shape") or config.get("batch_input_shape")
        if isinstance(shape, list) and shape:
            warnings.append(shape_note(shape[1:]))
        return None
    if inner and kind not in inner.choices:
        refuse(index, "layer.type", f"Layer {index} wraps {kind:.60}; it may wrap "
                                    f"{', '.join(inner.choices)}.")
    entry = catalog.LAYERS.get(kind)
    if entry is None or not isinstance(config, dict):
        refuse(index, "type", f"Layer {index}: {kind:.60} is not an allowed layer. Allowed: {', '.join(catalog.LAYERS)}.")
    if isinstance(config.get("batch_input_shape"), list) and not inner:   # Keras 2: on the first layer
        warnings.append(shape_note(config["batch_input_shape"][1:]))
    return _keras_quirks({"type": kind, **_json_params(entry, config, index, warnings)})


def _json_params(entry, config, index, warnings):
    """Give a layer config's catalog parameters; the other keys are noted unless they change nothing."""
    out = {}
    for key, value in config.items():
        param = entry.param(key)
        if param is None:
            if key not in ("batch_input_shape", "input_dim") and not kn.is_neutral(key, value):
                warnings.append(f"layer {index} ({entry.type}): {key} = {_brief(value)} is not part of the spec; ignored")
        elif param.kind == "layer":
            out[key] = json_layer(value, index, warnings, inner=param)
        elif key in ("activation", "recurrent_activation"):
            out[key] = _json_activation(value, index, entry.type, key)
        else:
            out[key] = kn.tidy_float(value)
    return out


def _keras_quirks(layer):
    """Give the layer in the catalog's terms where Keras's config says the same thing differently."""
    if "pool_size" in layer and layer.get("strides") == layer["pool_size"]:
        layer["strides"] = None   # Keras stores strides=pool_size for the default None
    if layer["type"] == "ZeroPadding2D" and isinstance(layer.get("padding"), list):
        pairs = layer["padding"]
        if all(isinstance(p, list) and len(p) == 2 and p[0] == p[1] for p in pairs):
            layer["padding"] = [p[0] for p in pairs]   # ((1, 1), (2, 2)) -> [1, 2]: symmetric only
    return layer


def _json_activation(value, index, kind, key):
    """Give an activation name from a config (a string, or a serialized Keras function)."""
    name = value
    if isinstance(value, dict):
        known = value.get("class_name") == "function" and str(value.get("module", "keras")).split(".")[0] == "keras"
        name = value.get("config") if known else None
        if name is None:
            what = value.get("class_name", "an object")
            refuse(index, key, f"Layer {index} ({kind}): {key} is {what!s:.60}, not a built-in activation; "
                               f"use one of {', '.join(catalog.ACTIVATIONS)}.")
    return kn.activation_name(name) or name


def _brief(value):
    if isinstance(value, dict) and "class_name" in value:
        return str(value["class_name"])[:60]
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _serialized_name(value):
    """Give the name inside a serialized loss/metric/optimizer: a string, or class_name / function name."""
    if isinstance(value, dict):
        if value.get("class_name") == "function":
            return value.get("config")
        return value.get("class_name")
    return value


def json_compile(config, warnings):
    """Give the spec's compile part from a Keras `compile_config`."""
    out = {"optimizer": json_optimizer(config.get("optimizer"), warnings)}
    loss = config.get("loss")
    if isinstance(loss, (list, dict)) and not (isinstance(loss, dict) and "class_name" in loss):
        raise SpecError([FieldError(None, "compile.loss", "compile.loss: one loss for the one output is "
                                    f"supported; got {_brief(loss)}.")])
    if isinstance(loss, dict):
        _warn_config(loss.get("config"), "compile.loss", warnings)
    out["loss"] = kn.loss_name(_serialized_name(loss)) if loss is not None else None
    out["metrics"] = [m for m in (json_metric(m, warnings) for m in _flat(config.get("metrics"))) if m]
    for key in ("loss_weights", "weighted_metrics"):
        if config.get(key):
            warnings.append(f"compile: {key} is not part of the spec; ignored")
    return out


def _flat(metrics):
    """Give a metrics list flat: Keras may nest one list per output."""
    if metrics is None:
        return []
    if isinstance(metrics, dict) and "class_name" not in metrics:
        metrics = list(metrics.values())
    items = metrics if isinstance(metrics, list) else [metrics]
    return [m for item in items for m in (item if isinstance(item, list) else [item])]


def json_metric(value, warnings):
    """Give a metric's catalog name from its Keras form, noting a renamed log key."""
    name = _serialized_name(value)
    out = kn.metric_name(name)
    if out not in catalog.METRICS:
        warnings.append(f"compile: metric {str(name)[:60]} is not one the dashboard logs; left out")
        return None
    if out == "accuracy" and name not in ("accuracy", "acc"):
        warnings.append(f"compile: metric {name} is read as accuracy, which Keras picks to suit the loss "
                        "(its log key is accuracy)")
    if isinstance(value, dict):
        _warn_config(value.get("config"), f"compile.metrics {name}", warnings)
    return out


def json_optimizer(value, warnings):
    """Give the spec's optimizer from a serialized Keras optimizer (or a string such as "adam")."""
    if value is None:
        return kn.KERAS_COMPILE_OPTIMIZER
    if not isinstance(value, dict):
        return value
    _check_origin(value, None, "compile.optimizer", f"The optimizer {value.get('class_name')!s:.60}")
    out = {"type": value.get("class_name")}
    entry = catalog.OPTIMIZERS.get(out["type"])
    config = value.get("config") if isinstance(value.get("config"), dict) else {}
    for key, item in config.items():
        if entry is not None and entry.param(key) is not None:
            out[key] = _schedule_name(kn.tidy_float(item))
        elif key == "weight_decay" and item is not None:
            warnings.append(f"compile.optimizer: weight_decay = {_brief(item)} is not part of the spec for "
                            f"{out['type']}; ignored (AdamW has it)")
        elif not kn.is_neutral(key, item):
            warnings.append(f"compile.optimizer: {key} = {_brief(item)} is not part of the spec; ignored")
    return out


def _schedule_name(value):
    """Give a learning-rate schedule as its class name, so the validation message stays short."""
    return f"<{value.get('class_name')}>" if isinstance(value, dict) else value


def _warn_config(config, where, warnings):
    if isinstance(config, dict):
        for key, value in config.items():
            if not kn.is_neutral(key, value):
                warnings.append(f"{where}: {key} = {_brief(value)} is not part of the spec; ignored")
