"""Pasted Python -> the import answer: the Keras calls that `python_source.Reader` found, in spec terms.

What the script leaves to Keras's defaults gets Keras's defaults (fit() trains 1 epoch without
validation, EarlyStopping has patience 0), so the imported run does what the script did.
"""

from . import catalog, keras_names as kn
from .imports import finish, refuse, shape_note
from .python_source import Call, Model, Reader, Ref, Unknown
from .validate import FieldError, SpecError


class NotStatic(Exception):
    """A value that only running the script would give."""


def from_python(source):
    """Give {"model", "compile", "fit", "warnings"} for a Keras script, or raise SpecError."""
    return PythonImport(Reader(source).read()).answer()


def _keras_path(ref, group):
    """Say whether a Ref names something in keras.<group>: keras.layers.X, layers.X, tf.keras.layers.X, X."""
    parts = ref.path.split(".")
    return len(parts) == 1 or (parts[-2] == group and parts[0] in ("keras", "tf", "tensorflow", group))


class PythonImport:
    """Maps the model, compile and fit calls a Reader found to spec dicts, collecting warnings."""

    def __init__(self, reader):
        self.reader = reader
        self.warnings = reader.warnings
        self.layer_lines = []

    def warn(self, line, message):
        """Add a warning that names its line."""
        self.reader.warn(line, message)

    def text(self, value):
        """Give the source text of a value read from the script."""
        if isinstance(value, (Call, Unknown)):
            return self.reader.text(value)
        if isinstance(value, Ref):
            return value.path
        if value is None or isinstance(value, (bool, int, float, str, list, tuple)):
            text = repr(value)
            return text if len(text) <= 60 else text[:57] + "..."
        return f"a {type(value).__name__.lower()}"   # a Model, a Parser...

    def plain(self, value, at=None):
        """Give a value as plain data (numbers, strings, lists); raise NotStatic when it is not.

        at: the line being read; the message adds where the value was set when that is elsewhere.
        """
        if isinstance(value, (list, tuple)):
            return [self.plain(v, at) for v in value]
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        line = getattr(value, "line", None)
        raise NotStatic(self.text(value) + (f" (from line {line})" if line and line != at else ""))

    def answer(self):
        """Give the import answer for the chosen model."""
        model = self.choose_model()
        layers = self.layers(model)
        compile_spec = self.compile(model.compile) if model.compile else None
        if compile_spec and compile_spec["loss"] is None:
            self.warn(model.compile.line, "compile has no loss that can be read, so compile is left out; "
                                          "choose a loss in the builder")
            compile_spec = None
        fit = self.fit(model.fit) if model.fit else None
        warnings = sorted(self.warnings, key=lambda w: int(w.split(":")[0].split()[-1]))   # "line N: ..."
        return finish(layers, compile_spec, fit, warnings, where=lambda e: self.where(e, model))

    def choose_model(self):
        """Give the Sequential model to import: the one fitted, else compiled, else the first."""
        models = self.reader.models
        if not models:
            if self.reader.functional:
                line = self.reader.functional[0]
                raise SpecError([FieldError(None, "source", f"Line {line}: keras.Model(...) builds a functional model; "
                                            "only keras.Sequential models can be imported.")])
            hint = next((w for w in self.warnings if "model" in w), "")
            raise SpecError([FieldError(None, "source", "No keras.Sequential model was found at the top level of the "
                                        "script." + (f" Note {hint}." if hint else ""))])
        chosen = next((m for m in models if m.fit), None) or next((m for m in models if m.compile), models[0])
        for other in models:
            if other is not chosen:
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
        for item in model.items:
            # a lower-case call is a function that makes layers (Keras's classes are capitalized)
            if isinstance(item, Model):
                self.warn(model.line, f"the Sequential model of line {item.line} used as a layer is not part of "
                                      "the spec; skipped")
                continue
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
        kind, line = call.name, call.line
        if kind in kn.INPUT_LAYERS and not inner:
            self.input_note(call)
            return None
        if kind in kn.CODE_LAYERS:
            refuse(index, "type", f"Line {line}: layer {index} is a {kind} layer: it runs Python code, which is never "
                                  "imported or run. Replace it with layers from the catalog.")
        if kind not in catalog.LAYERS or not _keras_path(call.func, "layers"):
            refuse(index, "type", f"Line {line}: layer {index}: {call.func.path:.60} is not an allowed layer. "
                                  f"Allowed: {', '.join(catalog.LAYERS)}.")
        entry, layer = catalog.LAYERS[kind], {"type": kind}
        positional = kn.POSITIONAL.get(kind, ())
        if len(call.args) > len(positional) or call.starred:
            self.warn(line, f"{kind}: arguments that cannot be matched to names (extra positional or **kwargs) are ignored")
        given = {**dict(zip(positional, call.args)), **call.kwargs}
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
                self.argument(layer, param, key, value, call)
        return layer

    def argument(self, layer, param, key, value, call):
        """Put one catalog argument into the layer, or warn and leave it to the default."""
        if key in ("activation", "recurrent_activation"):
            value = self.activation(value)
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

    def compile(self, call):
        """Give the spec's compile part from model.compile(...)."""
        given = {**dict(zip(kn.COMPILE_POSITIONAL, call.args)), **call.kwargs}
        out = {"optimizer": self.optimizer(given.pop("optimizer", kn.KERAS_COMPILE_OPTIMIZER), call),
               "loss": self.loss(given.pop("loss", None), call)}
        metrics = given.pop("metrics", None)
        if isinstance(metrics, str):
            metrics = [metrics]
        if metrics is not None and not isinstance(metrics, (list, tuple)):
            self.warn(call.line, f"metrics = {self.text(metrics)} cannot be read without running the script; none are used")
            metrics = []
        out["metrics"] = [m for m in (self.metric(m, call) for m in metrics or []) if m]
        for key, value in given.items():
            self.other_argument(call, key, value, "compile")
        return out

    def named(self, value, group, known):
        """Give the Keras name that a string, a Ref or a call in keras.<group> gives, or None if unreadable.

        A bare name counts only when `known` accepts it: `f1_score` may be anything, `Adam` is Adam.
        """
        if isinstance(value, str):
            return value
        ref = value.func if isinstance(value, Call) else value
        if not isinstance(ref, Ref):
            return None
        if "." in ref.path:
            return ref.last if _keras_path(ref, group) else None
        return ref.last if known(ref.last) else None

    def optimizer(self, value, call):
        """Give the spec's optimizer from "adam", keras.optimizers.Adam(...) or a name bound to one."""
        name = self.named(value, "optimizers", lambda n: n.lower() in catalog.OPTIMIZER_ALIASES)
        if name is None:
            self.warn(call.line, f"optimizer = {self.text(value)} cannot be read without running the script; "
                                 f"Keras's default {kn.KERAS_COMPILE_OPTIMIZER} is used")
            return kn.KERAS_COMPILE_OPTIMIZER
        if not isinstance(value, Call):
            return name if isinstance(value, str) else {"type": name}
        entry = catalog.OPTIMIZERS.get(name)
        out = {"type": name}
        given = {**dict(zip(kn.OPTIMIZER_POSITIONAL, value.args)), **value.kwargs}
        if "lr" in given:
            self.warn(value.line, f"{name}: lr is the old name of learning_rate; read as learning_rate")
            given.setdefault("learning_rate", given.pop("lr"))
        for key, item in given.items():
            param = entry.param(key) if entry else None
            if param is None:
                self.other_argument(value, key, item)
                continue
            try:
                out[key] = self.plain(item, value.line)
            except NotStatic as exc:
                self.warn(value.line, f"{name}: {key} = {exc} cannot be read without running the script; "
                                      "the default is used")
        return out

    def loss(self, value, call):
        """Give the loss's catalog name from "mse", keras.losses.x or keras.losses.X(...)."""
        if value is None:
            return None
        name = self.named(value, "losses", lambda n: kn.loss_name(n) in catalog.LOSSES)
        if name is None:
            self.warn(call.line, f"loss = {self.text(value)} cannot be read without running the script")
            return None
        if isinstance(value, Call):
            for key, item in value.kwargs.items():
                self.other_argument(value, key, item)
        return kn.loss_name(name)

    def metric(self, value, call):
        """Give a metric's catalog name, or None (with a warning) when it cannot be read."""
        name = self.named(value, "metrics", lambda n: kn.metric_name(n) in catalog.METRICS)
        if name is None:
            self.warn(call.line, f"metric {self.text(value)} cannot be read without running the script; skipped")
            return None
        out = kn.metric_name(name)
        if out == "accuracy" and name not in ("accuracy", "acc"):
            self.warn(call.line, f"metric {name} is read as accuracy, which Keras picks to suit the loss")
        return out

    def fit(self, call):
        """Give the spec's fit part from model.fit(...), with Keras's defaults for what it leaves out."""
        given = {**dict(zip(kn.FIT_POSITIONAL, call.args)), **call.kwargs}
        out = {"epochs": kn.KERAS_FIT["epochs"]}
        for key in ("epochs", "batch_size", "shuffle"):
            if key in given:
                try:
                    value = self.plain(given[key], call.line)
                except NotStatic as exc:
                    value = None
                    self.warn(call.line, f"fit: {key} = {exc} cannot be read without running the script; "
                                         f"Keras's default {kn.KERAS_FIT[key]} is used")
                if value is not None:
                    out[key] = value
        out["validation"] = self.validation(given, call)
        out["callbacks"] = self.callbacks(given.get("callbacks"), call)
        if call.starred:
            self.warn(call.line, "fit: **kwargs cannot be read without running the script; ignored")
        for key, value in given.items():
            if key not in kn.FIT_POSITIONAL:
                self.other_argument(call, key, value, "fit")
        return out

    def validation(self, given, call):
        """Give "test" for validation_data, the fraction for validation_split, else "none"."""
        if given.get("validation_data") is not None:
            return "test"
        split = given.get("validation_split")
        if split is None:
            return "none"
        try:
            split = self.plain(split, call.line)
        except NotStatic as exc:
            self.warn(call.line, f"fit: validation_split = {exc} cannot be read without running the script; "
                                 "no validation is used")
            return "none"
        return split if split else "none"

    def callbacks(self, value, call):
        """Give the spec's callbacks from fit's callbacks=[...] list."""
        out = {}
        if value is None:
            return out
        if not isinstance(value, (list, tuple)):
            self.warn(call.line, f"fit: callbacks = {self.text(value)} cannot be read without running the script; skipped")
            return out
        names = {cls: name for name, cls in kn.CALLBACK_CLASSES.items()}
        for item in value:
            name = names.get(item.name) if isinstance(item, Call) else None
            if name is None:
                if not (isinstance(item, Call) and item.name in kn.QUIET_CALLBACKS):
                    self.warn(getattr(item, "line", call.line), f"callback {self.text(item)} is not part of the spec; ignored")
                continue
            out[name] = self.callback(name, item)
        return out

    def callback(self, name, call):
        """Give one callback's settings: Keras's defaults, then what the call sets."""
        out = dict(kn.KERAS_CALLBACKS[name])
        given = {**dict(zip(kn.CALLBACK_POSITIONAL[name], call.args)), **call.kwargs}
        for key, value in given.items():
            try:
                value = self.plain(value, call.line)
            except NotStatic as exc:
                self.warn(call.line, f"{call.name}: {key} = {exc} cannot be read without running the script; "
                                     "Keras's default is used")
                continue
            if key in out:
                out[key] = value
            elif kn.CALLBACK_OTHER_DEFAULTS.get(key, None) not in (kn.ANY, value):
                self.warn(call.line, f"{call.name}: {key} = {value!r:.40} is not part of the spec; ignored")
        return out

