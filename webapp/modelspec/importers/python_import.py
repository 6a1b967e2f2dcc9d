"""Pasted Python -> the import answer: the Keras calls that `python_source.Reader` found, in spec terms.

The model's layers are mapped here, compile and fit in `python_training.py`. What the script
leaves to Keras gets Keras's defaults (fit() trains 1 epoch without validation, EarlyStopping has
patience 0), so the imported run does what the script did. A model a Keras Tuner tuner builds
adds the answer's "sweep" (`python_sweep.py`): its `hp.*` values placed at the fields that read them.
"""

from .. import catalog, keras_names as kn
from . import old_keras, python_backbone, python_dataset, python_graph, python_legacy, python_sweep, python_training
from .import_answer import finish, refuse, shape_note
from .python_source import Reader
from .python_values import Backbone, Call, HpValue, Model, NotStatic, Ref, Rows, Unknown
from ..fields import FieldError, SpecError


def from_python(source, keras_version=None):
    """Give the import answer for a Keras script, or raise SpecError.

    keras_version: the Keras generation to read it as (old_keras.GENERATIONS); None detects it.
    """
    reader = Reader(source)
    try:
        return PythonImport(reader.read(), keras_version).answer()
    finally:
        reader.close()   # nothing the script built outlives the answer, not even a cycle the collector has to find


class PythonImport:
    """Maps the model, compile and fit calls a Reader found to spec dicts, collecting warnings and notes."""

    def __init__(self, reader, keras_version=None):
        self.reader = reader
        self.warnings = reader.warnings
        self.layer_lines = []
        self.generation, self.version = python_legacy.generation(reader, keras_version)
        self.shift = 0   # layers put before the script's own (augmentation), for note indexes
        self.space = {}  # spec path -> (HpValue, field): where a tuned model's hp.* values are searched

    def warn(self, line, message):
        """Add a warning that names its line."""
        self.reader.warn(line, message)

    def note(self, line, was, now, why, layer=None, field=None):
        """Add a note of what changed from the script; layer is the index in the imported model."""
        self.reader.note(line, was, now, why, layer, field)

    def text_layer(self, layer):
        """Give a spec layer as the Keras 3 call it stands for: RandomFlip(mode='horizontal')."""
        args = ", ".join(f"{k}={v!r}" for k, v in layer.items() if k != "type")
        return f"{layer['type']}({args})"

    def text(self, value):
        """Give the source text of a value read from the script."""
        if isinstance(value, (Call, Unknown, Rows)):
            return self.reader.text(value)
        if isinstance(value, Ref):
            return value.path
        if value is None or isinstance(value, (bool, int, float, str, list, tuple)):
            text = self.short(value, 61)
            return text if len(text) <= 60 else text[:57] + "..."
        return f"a {type(value).__name__.lower()}"   # a Model, a Parser...

    def short(self, value, room):
        """Give a value as repr() writes it, stopping past `room` characters; items that are not data as text() does."""
        if isinstance(value, str):
            return repr(value[:room])
        if value is None or isinstance(value, (bool, int, float)):
            return repr(value)
        if not isinstance(value, (list, tuple)):
            return self.text(value)
        opening, closing = ("[", "]") if isinstance(value, list) else ("(", ",)" if len(value) == 1 else ")")
        parts, used = [], 1
        for item in value:
            if used > room:   # a list of a million items costs what its first few do
                break
            parts.append(self.short(item, room - used))
            used += len(parts[-1]) + 2
        return opening + ", ".join(parts) + closing

    def plain(self, value, at=None):
        """Give a value as plain data (numbers, strings, lists); raise NotStatic when it is not.

        at: the line being read; the message adds where the value was set when that is elsewhere.
        """
        if isinstance(value, (list, tuple)):
            self.reader.cost.charge(len(value), at)
            return [self.plain(v, at) for v in value]
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, HpValue):   # one the importer did not place at a field a sweep searches
            return python_sweep.unplaced(self, value, at)
        line = getattr(value, "line", None)
        raise NotStatic(self.text(value) + (f" (from line {line})" if line and line != at else ""))

    def answer(self):
        """Give the import answer for the chosen model."""
        model = self.choose_model()
        layers = python_backbone.tidy(self, self.layers(model), self.layer_lines)
        fine_tune = python_backbone.phases(self, model, layers)
        compile_spec = python_training.compile_part(self, model.compile) if model.compile else None
        if compile_spec and compile_spec["loss"] is None:
            self.warn(model.compile.line, "compile has no loss that can be read, so compile is left out; "
                                          "choose a loss in the builder")
            compile_spec = None
        fit = python_training.fit_part(self, model) if model.fit else None
        if fit is not None and fine_tune is not None:
            fit["fine_tune"] = fine_tune
        sweep = python_sweep.sweep_part(self, model, compile_spec, fit) if model.tuner else None
        predict = python_legacy.predict_part(self, model)
        warnings = sorted(self.warnings, key=lambda w: int(w.split(":")[0].split()[-1]))   # "line N: ..."
        version = self.version
        notes = [{"line": version.pop("line"), "was": version.pop("was"), "now": old_keras.GENERATIONS[version["used"]],
                  "why": version["why"], "field": "keras_version"}]
        notes += sorted(self.reader.notes.values(), key=lambda n: n["line"] or 0)
        return finish(layers, compile_spec, fit, warnings, where=lambda e: self.where(e, model), notes=notes,
                      extra={"predict": predict, "keras_version": version, "dataset": python_dataset.answer(self.reader.data),
                             **({"sweep": sweep} if sweep else {})})

    def choose_model(self):
        """Give the model to import (Sequential or functional): the one fitted, else compiled, else the first."""
        models = self.reader.models
        if not models:
            if self.reader.functional:
                line = self.reader.functional[0]
                raise SpecError([FieldError(None, "source", f"Line {line}: keras.Model(...) cannot be followed: its "
                                            "inputs must be a keras.Input(...) and its outputs layers called on "
                                            "it, at the top level or in functions the script calls.")])
            hint = next((w for w in self.warnings if "model" in w), "")
            raise SpecError([FieldError(None, "source", "No keras.Sequential model was found at the top level of the "
                                        "script." + (f" Note {hint}." if hint else ""))])
        for wrapper in self.reader.wrappers:   # a wrapper fitted in its model's place trains that model
            inner = wrapper.wraps
            if wrapper.fit and not inner.fit:
                inner.fit, inner.fit_method = wrapper.fit, wrapper.fit_method
                inner.compile = wrapper.compile or inner.compile
        chosen = next((m for m in models if m.tuner), None) or next((m for m in models if m.fit), None) \
            or next((m for m in models if m.compile), models[0])
        for other in models:
            # a tuner's model-building function called again outside it (to check it, or with the best hp)
            if other is not chosen and not other.nested and not (chosen.tuner and other.line == chosen.line):
                self.warn(other.line, f"another Sequential model is ignored; the one on line {chosen.line} is imported")
        return chosen

    def where(self, error, model):
        """Give "Line N: " for a validation error, from the call it comes from."""
        line = None
        if error.layer is not None and error.layer < len(self.layer_lines):
            line = self.layer_lines[error.layer]
        elif error.field and error.field.startswith("compile") and model.compile:
            line = model.compile.line
        elif error.field and error.field.startswith("fit") and model.fit:
            line = model.fit.line
        return f"Line {line}: " if line else ""

    def layers(self, model):
        """Give the model's layers as spec dicts, in order; inputs are dropped with a note."""
        out = []
        flow = python_legacy.fit_source(self, model.fit)[0] if model.fit else None
        if flow is not None and hasattr(flow, "generator"):
            for layer in python_legacy.augmentation(self, flow):
                out.append(layer)
                self.layer_lines.append(flow.generator.call.line)
        self.shift = len(out)
        front = python_graph.front(self, model)
        if model.graph:
            return python_graph.spec_layers(self, model, front)
        for tensor in front:
            out.append(self.layer(tensor.layer, len(out)))
            self.layer_lines.append(tensor.line)
        for item in model.items:
            # a lower-case call is a function that makes layers (Keras's classes are capitalized)
            if isinstance(item, Model):
                self.warn(model.line, f"the Sequential model of line {item.line} used as a layer is not part of "
                                      "the spec; skipped")
                continue
            if isinstance(item, Backbone):
                item = item.call
            if not isinstance(item, Call) or not isinstance(item.func, Ref) or not item.name[:1].isupper():
                line = getattr(item, "line", model.line)
                self.warn(line, f"layer {self.text(item)} cannot be read without running the script; skipped")
                continue
            layer = self.layer(item, len(out))
            if layer is not None:
                out.append(layer)
                self.layer_lines.append(item.line)
        return out

    def layer(self, call, index, inner=False):
        """Give one layer call as a spec dict (None for an input); refuse Lambda and unknown layers."""
        kind, line = old_keras.CLASSES.get(call.name, call.name), call.line
        if not inner and python_backbone.application(self.reader, call) is not None:
            return python_backbone.layer(self, call, index)
        if kind in kn.INPUT_LAYERS and not inner:
            self.input_note(call)
            return None
        if kind in kn.CODE_LAYERS:
            refuse(index, "type", f"Line {line}: layer {index} is a {kind} layer: it runs Python code, which is never "
                                  "imported or run. Replace it with layers from the catalog.")
        if kind not in catalog.LAYERS or not call.func.in_keras("layers"):
            refuse(index, "type", f"Line {line}: layer {index}: {call.func.path:.60} is not an allowed layer. "
                                  f"Allowed: {', '.join(catalog.LAYERS)}.")
        entry, layer = catalog.LAYERS[kind], {"type": kind}
        positional = python_legacy.positional(self, call, kind)
        if len(call.args) > len(positional) or call.starred:
            self.warn(line, f"{kind}: arguments that cannot be matched to names (extra positional or **kwargs) are ignored")
        given = python_legacy.layer_arguments(self, call, kind, index, positional)
        for key, value in given.items():
            param = entry.param(key)
            if param is None:
                self.other_argument(call, key, value)
            elif param.kind == "layer":
                if isinstance(value, Call) and isinstance(value.func, Ref):
                    layer[key] = self.layer(value, index, inner=True)
                else:
                    self.warn(line, f"{kind}: layer = {self.text(value)} cannot be read without running the script")
            else:
                self.argument(layer, param, key, value, call, None if inner else f"model.layers.{index}.{key}")
        return layer

    def argument(self, layer, param, key, value, call, path=None):
        """Put one catalog argument into the layer, or warn and leave it to the default.

        path: the argument's spec path, where a sweep searches an hp.* value given for it (None: nowhere).
        """
        if key in ("activation", "recurrent_activation"):
            value = python_sweep.place(self, self.activation(value), path, call.line, self.activation)
        value = python_sweep.place(self, value, path, call.line, listed=param.kind == "ints")
        try:
            layer[key] = self.plain(value, call.line)
        except NotStatic as exc:
            used = "the default"
            if param.required:
                layer[key] = param.default
                used = f"{param.default!r} (the builder's suggestion; check it)"
            self.warn(call.line, f"{call.name}: {key} = {exc} cannot be read without running the script; {used} is used")

    def other_argument(self, call, key, value, what=None):
        """Note an argument the spec does not carry: the input shape, or a setting that is ignored."""
        if key in ("input_shape", "batch_input_shape", "input_dim"):
            try:
                shape = self.plain(value)
                dims = shape if isinstance(shape, list) else [shape]
                self.warn(call.line, shape_note(dims[1:] if key == "batch_input_shape" else dims))
            except NotStatic:
                self.warn(call.line, "the input shape is ignored: the dataset gives the input shape")
            return
        try:
            neutral = kn.is_neutral(key, self.plain(value))
        except NotStatic:
            neutral = key in ("name", "seed")
        if not neutral:
            self.warn(call.line, f"{what or call.name}: {key} = {self.text(value)} is not part of the spec; ignored")

    def input_note(self, call):
        """Note the shape of a keras.Input / InputLayer, which the dataset replaces."""
        shape = call.kwargs.get("shape", call.kwargs.get("input_shape", call.args[0] if call.args else None))
        if shape is None and "batch_shape" in call.kwargs:
            shape = call.kwargs["batch_shape"]
            shape = shape[1:] if isinstance(shape, (list, tuple)) else shape
        try:
            dims = self.plain(shape)
            self.warn(call.line, shape_note(dims if isinstance(dims, list) else [dims]))
        except NotStatic:
            self.warn(call.line, "the input shape is ignored: the dataset gives the input shape")

    def activation(self, value):
        """Give an activation's name from "relu", keras.activations.relu, tf.nn.relu or None."""
        if isinstance(value, Ref) and (value.parent.endswith(("activations", "nn")) or not value.parent):
            return kn.activation_name(value.last) or value
        if isinstance(value, str) or value is None:
            return kn.activation_name(value) or value
        return value
