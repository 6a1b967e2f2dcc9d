"""Keras Tuner in a pasted script, read without running it: `hp.*` values, the tuner, its hypermodel, its search.

`kt.RandomSearch(build_model, ...)` (or BayesianOptimization, Hyperband, GridSearch) follows the
model-building function, or a `keras_tuner.HyperModel` subclass's `build`, with an `hp` whose
`hp.Int`, `hp.Float`, `hp.Choice` and `hp.Boolean` calls give HpValues (the first call of a name
gives the value every later call of it gets, as in Keras Tuner). An HpValue stands for its default;
where the importer reads it for a spec field, `python_sweep.py` puts its field into the sweep's
space at that field's path. Where the script computes with it instead (an `if`, a loop's count,
arithmetic), `settle` gives its default with a warning. `tuner.search(...)` is the tuned model's
fit, through a HyperModel's own `fit` when it has one. A range Keras Tuner would refuse is refused
here, naming the line.
"""

import ast
import math

from .python_values import (Call, Function, HpValue, Hyper, HyperModelClass, HyperModelInstance, Method, Model,
                            NotStatic, Ref, Tuner, Unknown)
from ..fields import FieldError, SpecError, is_int, is_number

MODULES = ("keras_tuner", "kerastuner")
# Each tuner's positional arguments (Keras Tuner's order).
TUNERS = {"RandomSearch": ("hypermodel", "objective", "max_trials"),
          "BayesianOptimization": ("hypermodel", "objective", "max_trials"),
          "GridSearch": ("hypermodel", "objective", "max_trials"),
          "Hyperband": ("hypermodel", "objective", "max_epochs", "factor", "hyperband_iterations")}
HP_ARGUMENTS = {"Int": ("name", "min_value", "max_value", "step", "sampling", "default"),
                "Float": ("name", "min_value", "max_value", "step", "sampling", "default"),
                "Choice": ("name", "values", "ordered", "default"),
                "Boolean": ("name", "default"),
                "Fixed": ("name", "value")}
SAMPLINGS = ("linear", "log", "reverse_log")
MOST_CHOICES = 100   # values of a log-scaled step written out as choices (a sweep's categorical field takes 100)
PLAIN = (str, int, float, bool, type(None))
READ = ("min_value", "max_value", "step", "sampling", "default", "values", "value")   # what an hp.* call is read for
OWNERS = (Hyper, Tuner, HyperModelInstance)   # what a script calls methods of


def owns(func):
    """Say whether a call of `func` is Keras Tuner's: an hp.*, tuner or HyperModel method, a tuner class, a HyperModel."""
    if isinstance(func, Method):
        return isinstance(func.owner, OWNERS)
    if isinstance(func, HyperModelClass):
        return True
    if not isinstance(func, Ref) or func.last not in (*TUNERS, "HyperParameters"):
        return False
    parts = func.path.split(".")
    return len(parts) == 1 or parts[0] in MODULES


def member(owner, attr, node):
    """Give owner.attr: a method to call, or an Unknown for a HyperModel's own attribute (`self.classes`)."""
    if isinstance(owner, HyperModelInstance) and attr not in ("build", "fit"):
        return Unknown(node)
    return Method(owner, attr)


def call(reader, call_):
    """Give what a Keras Tuner call makes: an HpValue, a Tuner, an hp, a HyperModel instance or its model; else None."""
    func = call_.func
    if isinstance(func, HyperModelClass):
        return HyperModelInstance(func)
    if isinstance(func, Ref):
        return Hyper() if func.last == "HyperParameters" else tuner(reader, call_)
    owner, name = func.owner, func.name
    if isinstance(owner, Hyper):
        return hp_value(reader, name, call_)
    if isinstance(owner, Tuner):
        if name == "search":
            search(reader, owner, call_)
        # the best trial's hp, to build the model again: its values read as the hp's own (their defaults here)
        return reader.cost.adopt([Hyper()]) if name == "get_best_hyperparameters" else None
    if name == "build" and "build" in owner.cls.methods:   # hypermodel.build(hp): the model as a trial builds it
        return follow(reader, owner.cls.methods["build"], [owner, *call_.args], call_)
    return None


def hyper_class(reader, stmt):
    """Bind a class derived from keras_tuner.HyperModel to its methods; give False for any other class."""
    bases = [reader.value(base) for base in stmt.bases]
    if not any(isinstance(b, Ref) and b.last == "HyperModel" and b.path.split(".")[0] in (*MODULES, "HyperModel")
               for b in bases):
        return False
    methods = {s.name: s for s in stmt.body if isinstance(s, ast.FunctionDef)}
    reader.env[stmt.name] = HyperModelClass(stmt.name, methods)
    return True


def follow(reader, node, args, call_, kwargs=None):
    """Give what a function or method returns, followed with these arguments (python_flow.Flow.call_function)."""
    return reader.flow.call_function(Function(node), Call(Ref(node.name), list(args), dict(kwargs or {}), call_.node))


def tuner(reader, call_):
    """Give a Tuner; its hypermodel is built with an hp, and the model it returns is the one the tuner tunes."""
    given = {**dict(zip(TUNERS[call_.func.last], call_.args)), **call_.kwargs}
    made, hypermodel = Tuner(call_, given), given.get("hypermodel")
    if isinstance(hypermodel, Function):
        model = follow(reader, hypermodel.node, [Hyper()], call_)
    elif isinstance(hypermodel, HyperModelInstance) and "build" in hypermodel.cls.methods:
        made.hypermodel = hypermodel
        model = follow(reader, hypermodel.cls.methods["build"], [hypermodel, Hyper()], call_)
    else:
        text = reader.text(hypermodel) if isinstance(hypermodel, (Call, Unknown)) else type(hypermodel).__name__
        reader.warn(call_.line, f"{call_.func.last}: the hypermodel {text} cannot be read without running the "
                                "script (a model-building function or a keras_tuner.HyperModel is read); no sweep")
        return made
    if isinstance(model, Model):
        model.tuner, made.model = made, model
    else:
        reader.warn(call_.line, f"{call_.func.last}: its hypermodel returns no model that can be read; no sweep")
    return made


def search(reader, tuned, call_):
    """Record tuner.search(...) as the tuned model's fit; a HyperModel's fit method is followed to make that fit."""
    tuned.searched, model = True, tuned.model
    if model is None:
        return
    fit, method = call_, tuned.hypermodel.cls.methods.get("fit") if tuned.hypermodel else None
    if method is not None:
        model.fit = None
        follow(reader, method, [tuned.hypermodel, Hyper(), model, *call_.args], call_, call_.kwargs)
        fit = merged(model.fit, call_) if isinstance(model.fit, Call) else call_
    model.fit, model.fit_method = fit, "fit"


def merged(inner, outer):
    """Give the fit a HyperModel's fit makes: its own arguments, and search()'s where it passes *args or **kwargs on."""
    spread = any(isinstance(a, Unknown) and isinstance(a.node, ast.Starred) for a in inner.args)
    kwargs = {**(outer.kwargs if inner.starred else {}), **inner.kwargs}
    return Call(inner.func, list(outer.args) if spread else inner.args, kwargs, inner.node, inner.starred and outer.starred)


def hp_value(reader, kind, call_):
    """Give the HpValue of an hp.* call (the first of its name, as Keras Tuner does), hp.Fixed's value, or an Unknown."""
    if kind == "get":
        name = call_.args[0] if call_.args else call_.kwargs.get("name")
        return reader.hps.get(name, Unknown(call_.node)) if isinstance(name, str) else Unknown(call_.node)
    if kind not in HP_ARGUMENTS:
        return Unknown(call_.node)
    given = {**dict(zip(HP_ARGUMENTS[kind], call_.args)), **call_.kwargs}
    name = given.get("name")
    label = f"hp.{kind}({name!r:.40})" if isinstance(name, str) else reader.text(call_)
    if isinstance(name, str) and name in reader.hps:
        return reader.hps[name]
    try:
        read = {k: _plain(reader, k, v) for k, v in given.items() if k in READ}
        if kind == "Fixed":
            return read.get("value")
        field, default, caveat = (_numeric if kind in ("Int", "Float") else _categorical)(kind, read)
    except NotStatic as exc:
        reader.warn(call_.line, f"{label}: {exc} cannot be read without running the script; it is not searched")
        return Unknown(call_.node)
    except ValueError as exc:
        raise SpecError([FieldError(None, "source", f"Line {call_.line}: {label}: {exc}.")]) from None
    value = HpValue(kind, label, field, default, call_, caveat)
    if isinstance(name, str):
        reader.hps[name] = value
    return value


def _plain(reader, key, value):
    """Give an hp.* argument as data; raise NotStatic naming it when only running the script would give it."""
    if isinstance(value, (list, tuple)):
        return [_plain(reader, key, v) for v in value]
    if isinstance(value, PLAIN):
        return value
    text = reader.text(value) if isinstance(value, (Call, Unknown)) else getattr(value, "path", "a value")
    raise NotStatic(f"{key} = {text}")


def _numeric(kind, given):
    """Give (field, default, caveat) of hp.Int or hp.Float; raise ValueError for what Keras Tuner refuses too."""
    fits, what = (is_int, "whole numbers") if kind == "Int" else (is_number, "numbers")
    low, high, step = given.get("min_value"), given.get("max_value"), given.get("step")
    sampling, default = given.get("sampling") or "linear", given.get("default")
    if not all(fits(v) for v in (low, high, *[v for v in (step, default) if v is not None])):
        raise ValueError(f"min_value, max_value, step and default must be {what}")
    if kind == "Int":   # 32.0 is 32: a sweep's int field and the spec take ints
        low, high, step, default = (None if v is None else int(v) for v in (low, high, step, default))
    if low > high:
        raise ValueError(f"min_value {low!r} is above max_value {high!r}")
    if sampling not in SAMPLINGS:
        raise ValueError(f"sampling must be one of {', '.join(SAMPLINGS)}; got {sampling!r:.40}")
    if sampling != "linear" and low <= 0:
        raise ValueError(f"sampling={sampling!r} needs min_value above 0; got {low!r}")
    if step is not None and step <= 0:
        raise ValueError(f"step must be above 0; got {step!r}")
    default = low if default is None else default
    if not low <= default <= high:
        raise ValueError(f"default {default!r} is outside min_value..max_value ({low!r}..{high!r})")
    field, caveat = _range(kind, low, high, step, sampling)
    return field, default, caveat


def _range(kind, low, high, step, sampling):
    """Give (field, caveat) of a range: on a log scale Keras Tuner's step is a factor, so its values are choices."""
    field = {"type": kind.lower(), "low": low, "high": high}
    if sampling == "reverse_log":
        return {**field, **({"step": step} if step else {})}, ("; Keras Tuner's reverse_log sampling is searched on "
                                                               "a linear scale (Optuna has no reverse log)")
    if sampling == "linear":
        return {**field, **({"step": step} if step else {})}, ""
    if step is None:
        return {**field, "log": True}, ""
    if step <= 1:
        raise ValueError(f"a step on a log scale multiplies, so it must be above 1; got {step!r}")
    count = math.log(high / low, step) if high > low else 0.0   # high / low may be inf: then count is too
    if not count < MOST_CHOICES:
        return {**field, "log": True}, f"; its step on a log scale would make over {MOST_CHOICES} values, so it is dropped"
    values = [low * step ** i for i in range(int(count + 1e-9) + 1)]
    values = [int(round(v)) if kind == "Int" else float(f"{v:.12g}") for v in values]   # 0.1, not 0.10000000000000002
    return {"type": "categorical", "choices": list(dict.fromkeys(values))}, (
        "; Keras Tuner's step on a log scale multiplies, so the values it gives are the choices")


def _categorical(kind, given):
    """Give (field, default, caveat) of hp.Choice or hp.Boolean; raise ValueError for what Keras Tuner refuses too."""
    if kind == "Boolean":
        default = given.get("default", False)
        if not isinstance(default, bool):
            raise ValueError(f"default must be True or False; got {default!r:.40}")
        return {"type": "categorical", "choices": [False, True]}, default, ""
    values = given.get("values")
    if not isinstance(values, list) or not values or not all(isinstance(v, PLAIN) for v in values):
        raise ValueError("values must be a non-empty list of numbers, strings or booleans")
    default = given.get("default", None if None in values else values[0])
    if default not in values:
        raise ValueError(f"default {default!r:.40} is not one of the values")
    return {"type": "categorical", "choices": values}, default, ""


def settle(reader, value, line, what):
    """Give a value the script computes with: an HpValue's default, with a warning that a sweep cannot search it there."""
    if not isinstance(value, HpValue):
        return value
    reader.warn(line, f"{value.label} {what}, which a sweep over one spec cannot search; its default "
                      f"{value.default!r} is used")
    return value.default
