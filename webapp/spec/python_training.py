"""model.compile(...) and model.fit(...) from a Keras script, in spec terms (see `python_import.py`).

Functions of the PythonImport that reads the script (`imp`): its warnings, text and plain values.
"""

from . import catalog, keras_names as kn
from .python_source import Call, NotStatic, Ref


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
    name = named(imp, value, "optimizers", lambda n: n.lower() in catalog.OPTIMIZER_ALIASES)
    if name is None:
        imp.warn(call.line, f"optimizer = {imp.text(value)} cannot be read without running the script; "
                            f"Keras's default {kn.KERAS_COMPILE_OPTIMIZER} is used")
        return kn.KERAS_COMPILE_OPTIMIZER
    if not isinstance(value, Call):
        return name if isinstance(value, str) else {"type": name}
    entry = catalog.OPTIMIZERS.get(name)
    out = {"type": name}
    given = {**dict(zip(kn.OPTIMIZER_POSITIONAL, value.args)), **value.kwargs}
    if "lr" in given:
        imp.warn(value.line, f"{name}: lr is the old name of learning_rate; read as learning_rate")
        given.setdefault("learning_rate", given.pop("lr"))
    for key, item in given.items():
        param = entry.param(key) if entry else None
        if param is None:
            imp.other_argument(value, key, item)
            continue
        try:
            out[key] = imp.plain(item, value.line)
        except NotStatic as exc:
            imp.warn(value.line, f"{name}: {key} = {exc} cannot be read without running the script; "
                                 "the default is used")
    return out


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
    if out == "accuracy" and name not in ("accuracy", "acc"):
        imp.warn(call.line, f"metric {name} is read as accuracy, which Keras picks to suit the loss")
    return out


def fit_part(imp, call):
    """Give the spec's fit part from model.fit(...), with Keras's defaults for what it leaves out."""
    given = {**dict(zip(kn.FIT_POSITIONAL, call.args)), **call.kwargs}
    out = {"epochs": kn.KERAS_FIT["epochs"]}
    for key in ("epochs", "batch_size", "shuffle"):
        if key in given:
            try:
                value = imp.plain(given[key], call.line)
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
        if key not in kn.FIT_POSITIONAL:
            imp.other_argument(call, key, value, "fit")
    return out


def validation(imp, given, call):
    """Give "test" for validation_data, the fraction for validation_split, else "none"."""
    if given.get("validation_data") is not None:
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
        if key in out:
            out[key] = value
        elif kn.CALLBACK_OTHER_DEFAULTS.get(key, None) not in (kn.ANY, value):
            imp.warn(call.line, f"{call.name}: {key} = {value!r:.40} is not part of the spec; ignored")
    return out
