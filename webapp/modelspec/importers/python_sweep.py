"""The sweep a Keras Tuner script describes, in the import answer's terms: space, objective, trials, sampler, pruner.

The Reader's side is `python_tuner.py`. Here the importer (`imp`, a PythonImport) places each
`hp.*` value it meets where a spec field reads it: the field takes the hp's default and the
sweep's space gets the hp's field at that field's path (`model.layers.INDEX.ARG`,
`compile.optimizer.ARG`, `compile.optimizer.type`, `fit.batch_size`, `fit.epochs`), with a note.
An hp used where a sweep cannot search (a nested layer, a callback, fit's shuffle) gives its
default with a warning naming the line. The tuner gives the rest: RandomSearch is the random
sampler, BayesianOptimization TPE, GridSearch the grid, Hyperband TPE with the hyperband pruner.
"""

import math

from ..validate import log_keys
from . import old_keras
from .python_values import Call, HpValue

# Keras Tuner's tuner -> (sampler, pruner) of the sweep.
SAMPLERS = {"RandomSearch": ("random", "none"), "BayesianOptimization": ("tpe", "none"), "GridSearch": ("grid", "none"),
            "Hyperband": ("tpe", "hyperband")}
DEFAULT_TRIALS = 10     # Keras Tuner's max_trials for RandomSearch and BayesianOptimization
GRID_SAMPLES = 10       # the values Keras Tuner's grid tries of a float (or a log-scaled int) without a step
HYPERBAND = {"max_epochs": 100, "factor": 3, "hyperband_iterations": 1}   # Keras Tuner's defaults
FIRST = {"Int": " (min_value)", "Float": " (min_value)", "Choice": " (its first value)", "Boolean": " (False)"}
MOST_CHOICES = 100      # values of a size (kernel_size...) a range is written out as
MOST_TRIALS = 1_000_000   # a count past it (a grid of wide ranges, a huge Hyperband) is read as this many
MINIMIZED = ("loss", "error", "mse", "mae", "mape", "msle")   # how Keras Tuner tells a key to minimize


def place(imp, value, path, line, convert=None, listed=False):
    """Give the spec's value of a field read from the script: for an HpValue its default, its field put into the
    space at `path` (None: where no sweep searches, so the default with a warning); any other value as it is.

    convert: what the importer makes of a value there (an activation's name), applied to the choices too.
    listed: the field holds a size such as kernel_size (3 or (3, 3)), which a sweep searches by choices only.
    """
    if not isinstance(value, HpValue):
        return value
    field = _choices(value.field) if listed else dict(value.field)
    if path is None or field is None:
        return unplaced(imp, value, line, None if path is None else f"{path.rsplit('.', 1)[-1]} is a size, searched "
                        f"by choices: a range of at most {MOST_CHOICES} whole numbers, or hp.Choice")
    convert = convert or (lambda v: v)
    default = convert(value.default)
    if field["type"] == "categorical":
        field["choices"] = [convert(c) for c in field["choices"]]
    shared = [p for p, (v, _) in imp.space.items() if v is value and p != path]
    imp.space[path] = (value, field)
    parts = path.split(".")
    layer, name = (int(parts[2]), parts[3]) if parts[:2] == ["model", "layers"] else (None, path)
    also = (f"; {value.label} is used at {', '.join(shared)} too: Keras Tuner gives them one value, the sweep "
            "searches each path on its own") if shared else ""
    imp.note(value.call.line, imp.reader.text(value.call), f"{default!r}, searched {_span(field)}",
             f"the spec takes the hp's default{'' if 'default' in value.call.kwargs else FIRST[value.kind]}; "
             f"the sweep searches {path}{value.caveat}{also}", layer, name)
    return default


def _choices(field):
    """Give a field as choices: an int range's every value (at most MOST_CHOICES); None for a float range."""
    if field["type"] == "categorical":
        return dict(field)
    step = field.get("step") or 1
    if field["type"] != "int" or (field["high"] - field["low"]) // step >= MOST_CHOICES:
        return None
    return {"type": "categorical", "choices": list(range(field["low"], field["high"] + 1, step))}


def unplaced(imp, value, line, why=None):
    """Give an HpValue's default where no sweep can search it, with a warning naming the line."""
    where = f" (line {value.call.line})" if value.call.line != line else ""
    why = why or "it searches layer arguments, the optimizer's, fit's epochs and batch_size"
    imp.warn(line, f"{value.label}{where} is used where a sweep cannot search it ({why}); its default "
                   f"{value.default!r} is used")
    return value.default


def _span(field):
    """Give a field as the notes write it: 32..512 step 32, 0.0001..0.01 log, relu | tanh."""
    if field["type"] == "categorical":
        return " | ".join(repr(c) for c in field["choices"])
    extra = f" step {field['step']!r}" if "step" in field else " log" if field.get("log") else ""
    return f"{field['low']!r}..{field['high']!r}{extra}"


def sweep_part(imp, model, compile_spec, fit):
    """Give the answer's "sweep" for a tuned model: space, objective, trials, sampler, pruner; noted, and for
    Hyperband fit.epochs set to its max_epochs."""
    tuner = model.tuner
    kind, line = tuner.call.func.last, tuner.call.line
    sampler, pruner = SAMPLERS[kind]
    hps = list(dict.fromkeys(v for v, _ in imp.space.values()))
    trials = _hyperband(imp, tuner, fit) if kind == "Hyperband" else _trials(imp, tuner, kind, hps)
    objective = _objective(imp, tuner, compile_spec, fit)
    shown = [k for k in ("max_trials", "max_epochs", "factor") if isinstance(tuner.given.get(k), int)]
    was = f"{imp.reader.text(tuner.call.node.func)}({', '.join(f'{k}={tuner.given[k]!r}' for k in shown)})"
    imp.note(line, was, f"a sweep of {trials} trials, sampler {sampler}" + (f", pruner {pruner}" if pruner != "none"
             else ""), f"Keras Tuner's {kind} is a sweep with the {sampler} sampler"
             + (" and the hyperband pruner" if pruner != "none" else "") + "; each trial is a run", None, "sweep")
    if tuner.given.get("executions_per_trial", 1) != 1:
        imp.note(line, f"executions_per_trial={imp.text(tuner.given['executions_per_trial'])}", "one run per trial",
                 "each trial of a sweep trains once", None, "sweep.trials")
    for key in ("optimizer", "loss", "metrics"):
        if key in tuner.given:
            imp.warn(line, f"{kind}: {key} = {imp.text(tuner.given[key])} is not read; the model's compile is used")
    if not tuner.searched:
        imp.warn(line, f"{kind}: tuner.search(...) is never called, so fit is Keras's default")
    if not imp.space:
        imp.warn(line, f"{kind}: no hp.* value is used where the spec has a field, so the sweep searches nothing")
    space = {path: _listed(imp, path, hp, field) if sampler == "grid" else field
             for path, (hp, field) in imp.space.items()}
    return {"space": space, "objective": objective, "trials": trials, "sampler": sampler, "pruner": pruner}


def _listed(imp, path, value, field):
    """Give a grid's field as a list: a range without a step (a float, or an int on a log scale) becomes the
    GRID_SAMPLES values Keras Tuner's grid tries, evenly spaced on its scale, with a note."""
    if field["type"] == "categorical" or "step" in field or field["type"] == "int" and not field.get("log"):
        return field
    low, high, last = field["low"], field["high"], GRID_SAMPLES - 1
    if field.get("log"):   # through logarithms: high / low may overflow, their logs do not
        points = [math.exp(math.log(low) + (math.log(high) - math.log(low)) * i / last) for i in range(GRID_SAMPLES)]
    else:
        points = [low + (high - low) * i / last for i in range(GRID_SAMPLES)]
    points = list(dict.fromkeys(int(round(p)) if field["type"] == "int" else float(f"{p:.12g}") for p in points))
    parts = path.split(".")
    layer, name = (int(parts[2]), parts[3]) if parts[:2] == ["model", "layers"] else (None, path)
    imp.note(value.call.line, imp.reader.text(value.call), f"{len(points)} values, {points[0]!r}..{points[-1]!r}",
             f"a grid lists its values: Keras Tuner's grid tries {GRID_SAMPLES} of a range without a step, evenly "
             f"spaced{' on a log scale' if field.get('log') else ''}; they are the choices of {path}", layer, name)
    return {"type": "categorical", "choices": points}


def _count(imp, tuner, key, default, least=1):
    """Give a whole-number argument of the tuner (its default when absent or unreadable, with a warning)."""
    value = tuner.given.get(key, default)
    if isinstance(value, int) and not isinstance(value, bool) and value >= least:
        return value
    imp.warn(tuner.call.line, f"{tuner.call.func.last}: {key} = {imp.text(value)} cannot be read as a whole number "
                              f"of at least {least}; {default!r} is used")
    return default


def _trials(imp, tuner, kind, hps):
    """Give max_trials; a GridSearch without it tries the whole grid, as Keras Tuner does."""
    if kind == "GridSearch" and tuner.given.get("max_trials") is None:
        size = 1
        for hp in hps:   # stops growing at MOST_TRIALS, however many hps and values
            size = min(size * _grid_size(hp.field), MOST_TRIALS)
        imp.note(tuner.call.line, "max_trials=None", f"{size} trials", f"GridSearch without max_trials tries the whole "
                 f"grid ({GRID_SAMPLES} values of a float without a step)", None, "sweep.trials")
        return size
    return _count(imp, tuner, "max_trials", DEFAULT_TRIALS)


def _grid_size(field):
    """Give how many values Keras Tuner's grid tries of one hp."""
    if field["type"] == "categorical":
        return len(field["choices"])
    step = field.get("step") or (1 if field["type"] == "int" and not field.get("log") else None)
    if not step:
        return GRID_SAMPLES
    steps = (field["high"] - field["low"]) / step   # floats: 1e300 / 1e-300 is inf, not an error
    return int(steps + 1e-9) + 1 if steps < MOST_TRIALS else MOST_TRIALS


def _hyperband(imp, tuner, fit):
    """Give the trials Keras Tuner's Hyperband starts (each bracket's first round, every iteration); fit.epochs
    becomes max_epochs, the most a trial trains."""
    epochs, factor, iterations = (_count(imp, tuner, k, d, 2 if k == "factor" else 1) for k, d in HYPERBAND.items())
    brackets, left = 0, float(epochs)
    while left >= 1:   # as Keras Tuner counts them: max_epochs divided by factor until under 1 epoch
        left, brackets = left / factor, brackets + 1
    # factor ** b is at most max_epochs (64 bits), so each term is a float; the count stops at MOST_TRIALS
    trials = min(iterations * sum(math.ceil(brackets / (b + 1) * float(factor) ** b) for b in range(brackets)),
                 MOST_TRIALS)
    if fit is not None:
        was = fit.get("epochs")
        fit["epochs"] = epochs
        imp.note(tuner.call.line, f"max_epochs={epochs!r}" + (f" (search's epochs={was!r})" if was != epochs else ""),
                 f"fit.epochs {epochs}", "Hyperband trains a trial for at most max_epochs; the sweep's hyperband "
                 "pruner stops the weaker trials sooner", None, "fit.epochs")
    return trials


def _objective(imp, tuner, compile_spec, fit):
    """Give {"metric", "direction"} from the tuner's objective (a key, kt.Objective(...), or Keras Tuner's default)."""
    value, line = tuner.given.get("objective"), tuner.call.line
    validation = fit["validation"] if fit else "none"
    metric, direction = ("val_loss" if validation != "none" else "loss"), None
    if isinstance(value, list) and value:
        imp.warn(line, f"{tuner.call.func.last}: several objectives; the sweep optimizes the first")
        value = value[0]
    if isinstance(value, Call) and value.name == "Objective":
        given = {**dict(zip(("name", "direction"), value.args)), **value.kwargs}
        value, direction = given.get("name"), {"min": "minimize", "max": "maximize"}.get(given.get("direction"))
    if isinstance(value, str):
        metric = old_keras.LOG_KEYS.get(value, value)
    elif value is not None:
        imp.warn(line, f"objective = {imp.text(value)} cannot be read without running the script; {metric} is used")
    direction = direction or ("minimize" if any(k in metric for k in MINIMIZED) else "maximize")
    keys = log_keys(compile_spec, validation) if compile_spec and compile_spec.get("loss") else None
    if keys is not None and metric not in keys:
        imp.warn(line, f"objective {metric!r:.40} is not logged by the imported run (it logs {', '.join(keys)}); "
                       "choose one for the sweep")
    imp.note(line, "objective=" + (imp.text(tuner.given["objective"]) if "objective" in tuner.given else "None"),
             f"{metric}, {direction}", "the sweep optimizes the objective at each trial's last epoch (Keras Tuner "
             "keeps a trial's best epoch)", None, "sweep.objective")
    return {"metric": metric, "direction": direction}
