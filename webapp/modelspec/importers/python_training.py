"""model.compile(...) and model.fit(...) from a Keras script, in spec terms (see `python_import.py`).

Functions of the PythonImport that reads the script (`imp`): its warnings, text and plain values.
"""

from .. import catalog, keras_names as kn
from . import old_keras, python_legacy, python_sweep
from .python_values import Call, Flow, NotStatic, Ref


def compile_part(imp, call):
    """Give the spec's compile part from model.compile(...)."""
    given = {**dict(zip(kn.COMPILE_POSITIONAL, call.args)), **call.kwargs}
    out = {"optimizer": optimizer(imp, given.pop("optimizer", kn.KERAS_COMPILE_OPTIMIZER), call),
           "loss": loss(imp, given.pop("loss", None), call)}
    metrics = given.pop("metrics", None)
    if isinstance(metrics, str):
        metrics = [metrics]
    if metrics is not None and not isinstance(metrics, (list, tuple)):
        imp.warn(call.line, f"metrics = {imp.text(metrics)} cannot be read without running the script; none are used")
        metrics = []
    out["metrics"] = [m for m in (metric(imp, m, call) for m in metrics or []) if m]
    for key, value in given.items():
        imp.other_argument(call, key, value, "compile")
    return out


def named(imp, value, group, known):
    """Give the Keras name that a string, a Ref or a call in keras.<group> gives, or None if unreadable.

    A bare name counts only when `known` accepts it: `f1_score` may be anything, `Adam` is Adam.
    """
    if isinstance(value, str):
        return value
    ref = value.func if isinstance(value, Call) else value
    if not isinstance(ref, Ref):
        return None
    if "." in ref.path:
        return ref.last if ref.in_keras(group) else None
    return ref.last if known(ref.last) else None


def optimizer(imp, value, call):
    """Give the spec's optimizer from "adam", keras.optimizers.Adam(...) or a name bound to one."""
    value = python_sweep.place(imp, value, "compile.optimizer.type", call.line,
                               lambda v: catalog.OPTIMIZER_ALIASES.get(v.lower(), v) if isinstance(v, str) else v)
    name = named(imp, value, "optimizers", lambda n: n.lower() in catalog.OPTIMIZER_ALIASES)
    if name is None:
        imp.warn(call.line, f"optimizer = {imp.text(value)} cannot be read without running the script; "
                            f"Keras's default {kn.KERAS_COMPILE_OPTIMIZER} is used")
        return kn.KERAS_COMPILE_OPTIMIZER
    line = value.line if isinstance(value, Call) else call.line
    canonical = catalog.OPTIMIZER_ALIASES.get(name.lower(), name)
    if canonical != name and not isinstance(value, str):
        imp.note(line, name, canonical, f"Keras 3's optimizer class is {canonical}", None, "compile.optimizer.type")
    name = canonical
    if not isinstance(value, Call):
        out = {"type": name}
        _old_default(imp, out, line, f"{value!r}" if isinstance(value, str) else imp.text(value))
        return out if len(out) > 1 or not isinstance(value, str) else value
    entry = catalog.OPTIMIZERS.get(name)
    out = {"type": name}
    given = {**dict(zip(kn.OPTIMIZER_POSITIONAL, value.args)), **value.kwargs}
    if "lr" in given:
        imp.note(line, f"lr={imp.text(given['lr'])}", f"learning_rate={imp.text(given['lr'])}",
                 "Keras 2's lr is Keras 3's learning_rate; its value is kept", None, "compile.optimizer.learning_rate")
        given.setdefault("learning_rate", given.pop("lr"))
    if "decay" in given:
        _decay(imp, out, given.pop("decay"), line)
    for key, item in given.items():
        param = entry.param(key) if entry else None
        if param is None:
            imp.other_argument(value, key, item)
            continue
        try:
            out[key] = imp.plain(python_sweep.place(imp, item, f"compile.optimizer.{key}", value.line), value.line)
        except NotStatic as exc:
            imp.warn(value.line, f"{name}: {key} = {exc} cannot be read without running the script; "
                                 "the default is used")
    if "learning_rate" not in out:
        _old_default(imp, out, line, imp.text(value))
    return out


def _old_default(imp, out, line, was):
    """Set the learning rate an older Keras gave this optimizer by default, with a note."""
    rate = old_keras.learning_rate_default(out["type"], imp.generation)
    if rate is None:
        return
    out["learning_rate"] = rate
    new = catalog.OPTIMIZERS[out["type"]].param("learning_rate").default
    imp.note(line, was, f"{out['type']}(learning_rate={rate!r})",
             f"{old_keras.GENERATIONS[imp.generation]}'s {out['type']} defaulted to learning_rate {rate!r} "
             f"(Keras 3's default is {new!r}); the script's Keras is kept", None, "compile.optimizer.learning_rate")


def _decay(imp, out, value, line):
    """Turn Keras 2's decay into the InverseTimeDecay schedule it is, with a note."""
    try:
        decay = imp.plain(value, line)
    except NotStatic as exc:
        imp.warn(line, f"decay = {exc} cannot be read without running the script; no decay is used")
        return
    if isinstance(decay, (int, float)) and not isinstance(decay, bool) and decay > 0:
        out["schedule"] = old_keras.inverse_time_decay(float(decay))
        imp.note(line, f"decay={decay!r}", f"InverseTimeDecay(decay_steps=1, decay_rate={decay!r})",
                 "Keras 2's decay made the rate lr / (1 + decay * iterations); Keras 3 dropped decay, and "
                 "InverseTimeDecay is the same schedule", None, "compile.optimizer.schedule")


def loss(imp, value, call):
    """Give the loss's catalog name from "mse", keras.losses.x or keras.losses.X(...)."""
    if value is None:
        return None
    name = named(imp, value, "losses", lambda n: kn.loss_name(n) in catalog.LOSSES)
    if name is None:
        imp.warn(call.line, f"loss = {imp.text(value)} cannot be read without running the script")
        return None
    if isinstance(value, Call):
        for key, item in value.kwargs.items():
            imp.other_argument(value, key, item)
    return kn.loss_name(name)


def metric(imp, value, call):
    """Give a metric's catalog name, or None (with a warning) when it cannot be read."""
    name = named(imp, value, "metrics", lambda n: kn.metric_name(n) in catalog.METRICS)
    if name is None:
        imp.warn(call.line, f"metric {imp.text(value)} cannot be read without running the script; skipped")
        return None
    out = kn.metric_name(name)
    if out not in catalog.METRICS:
        imp.warn(call.line, f"metric {name} is not one the dashboard logs (it logs {', '.join(catalog.METRICS)}); "
                            "left out")
        return None
    if name in old_keras.LOG_KEYS:
        imp.note(call.line, repr(name), repr(out), f"Keras 2's metric '{name}' is logged as {out} in Keras 3 "
                 f"(val_{name} as val_{out})", None, "compile.metrics")
    elif out == "accuracy" and name != "accuracy":
        imp.warn(call.line, f"metric {name} is read as accuracy, which Keras picks to suit the loss")
    return out


def fit_part(imp, model):
    """Give the spec's fit part from model.fit(...), with Keras's defaults for what it leaves out."""
    call = model.fit
    given = _fit_arguments(imp, model)
    out = {"epochs": kn.KERAS_FIT["epochs"]}
    flow, batch = python_legacy.fit_source(imp, call)
    if batch is not None:
        given.setdefault("batch_size", batch)
    for key in ("epochs", "batch_size", "shuffle"):
        if key in given:
            try:
                searched = f"fit.{key}" if key in ("epochs", "batch_size") else None
                value = imp.plain(python_sweep.place(imp, given[key], searched, call.line), call.line)
            except NotStatic as exc:
                value = None
                imp.warn(call.line, f"fit: {key} = {exc} cannot be read without running the script; "
                                    f"Keras's default {kn.KERAS_FIT[key]} is used")
            if value is not None:
                out[key] = value
    out["validation"] = validation(imp, given, call)
    out["callbacks"] = callbacks(imp, given.get("callbacks"), call)
    if call.starred:
        imp.warn(call.line, "fit: **kwargs cannot be read without running the script; ignored")
    for key, value in given.items():
        if key in old_keras.FIT_DROPPED:
            imp.note(call.line, f"{key}={imp.text(value)}", "left out", old_keras.FIT_DROPPED[key])
        elif key not in kn.FIT_POSITIONAL and key != "generator":
            imp.other_argument(call, key, value, "fit")
    return out


def _fit_arguments(imp, model):
    """Give fit's (or fit_generator's) arguments by Keras 3 name, noting nb_epoch and fit_generator."""
    call = model.fit
    if model.fit_method == "fit_generator":
        order = old_keras.FIT_GENERATOR_POSITIONAL["keras1" if imp.generation == "keras1" else "other"]
        imp.note(call.line, "model.fit_generator(...)", "model.fit(...)", "Keras 3 removed fit_generator; fit "
                 "takes generators. The dashboard trains on the dataset's arrays", None, "fit.epochs")
    else:
        order = kn.FIT_POSITIONAL
    given = {**dict(zip(order, call.args)), **call.kwargs}
    for old, new in old_keras.FIT_ARGUMENTS.items():
        if old in given:
            imp.note(call.line, f"{old}={imp.text(given[old])}", f"{new}={imp.text(given[old])}",
                     f"Keras 1's {old} is Keras 3's {new}", None, f"fit.{new}")
            given.setdefault(new, given.pop(old))
    return given


def validation(imp, given, call):
    """Give "test" for validation_data, the fraction for validation_split, else "none"."""
    if given.get("validation_data") is not None:
        if not isinstance(given["validation_data"], (tuple, list, Flow)):
            imp.note(call.line, f"validation_data={imp.text(given['validation_data'])}", "validation on the test split",
                     "the dashboard validates on the dataset's test split", None, "fit.validation")
        return "test"
    split = given.get("validation_split")
    if split is None:
        return "none"
    try:
        split = imp.plain(split, call.line)
    except NotStatic as exc:
        imp.warn(call.line, f"fit: validation_split = {exc} cannot be read without running the script; "
                            "no validation is used")
        return "none"
    return split if split else "none"


def callbacks(imp, value, call):
    """Give the spec's callbacks from fit's callbacks=[...] list."""
    out = {}
    if value is None:
        return out
    if not isinstance(value, (list, tuple)):
        imp.warn(call.line, f"fit: callbacks = {imp.text(value)} cannot be read without running the script; skipped")
        return out
    names = {cls: name for name, cls in kn.CALLBACK_CLASSES.items()}
    for item in value:
        name = names.get(item.name) if isinstance(item, Call) else None
        if name is None:
            if not (isinstance(item, Call) and item.name in kn.QUIET_CALLBACKS):
                imp.warn(getattr(item, "line", call.line), f"callback {imp.text(item)} is not part of the spec; ignored")
            continue
        out[name] = callback(imp, name, item)
    return out


def callback(imp, name, call):
    """Give one callback's settings: Keras's defaults, then what the call sets."""
    out = dict(kn.KERAS_CALLBACKS[name])
    given = {**dict(zip(kn.CALLBACK_POSITIONAL[name], call.args)), **call.kwargs}
    for key, value in given.items():
        try:
            value = imp.plain(value, call.line)
        except NotStatic as exc:
            imp.warn(call.line, f"{call.name}: {key} = {exc} cannot be read without running the script; "
                                "Keras's default is used")
            continue
        if key == "monitor" and value in old_keras.LOG_KEYS:
            imp.note(call.line, f"monitor={value!r}", f"monitor={old_keras.LOG_KEYS[value]!r}", f"Keras 3 logs "
                     f"{old_keras.LOG_KEYS[value]}, not {value}", None, f"fit.callbacks.{name}.monitor")
            value = old_keras.LOG_KEYS[value]
        if key == "filepath" and name == "checkpoint":
            _filepath_note(imp, call, value)
        if key in out:
            out[key] = value
        elif kn.CALLBACK_OTHER_DEFAULTS.get(key, None) not in (kn.ANY, value):
            imp.warn(call.line, f"{call.name}: {key} = {value!r:.40} is not part of the spec; ignored")
    return out


def _filepath_note(imp, call, path):
    """Note where the checkpoint goes instead of the script's filepath (whose {val_acc} Keras 3 would not fill)."""
    why = "the dashboard keeps the best epoch as best.keras beside the run (and the last as model.keras)"
    olds = [k for k in old_keras.LOG_KEYS if "{" + k in str(path)]
    if olds:
        why += f"; in Keras 3 the pattern would need {{{old_keras.LOG_KEYS[olds[0]]}}}, not {{{olds[0]}}}"
    imp.note(call.line, f"filepath={path!r}", "best.keras", why, None, "fit.callbacks.checkpoint")
