"""A sweep's request checked: the base spec, the search space over its fields, the objective, the sampler.

Pure data, no Optuna and no Keras: a PATH is a dotted path into the canonical run spec
(`compile.optimizer.learning_rate`, `fit.batch_size`, `model.layers.1.units` or
`model.layers.hidden.units`), a FIELD what Optuna's `suggest_*` take. `apply` writes sampled values
into a copy of the base; `corners` gives the few samples that bound what any trial can cost, so a
space whose largest trial the server would refuse is refused before any trial is queued.
"""

import copy
import itertools
import math

from ..modelspec import catalog
from ..modelspec.validate import FieldError, SpecError, is_int, is_number, log_keys, show, validate

TYPES = ("float", "int", "categorical")
SAMPLERS = ("tpe", "random", "grid")
PRUNERS = ("median", "hyperband", "none")
DIRECTIONS = ("maximize", "minimize")
FIELD_KEYS = {"type", "low", "high", "log", "step", "choices"}
MAX_FIELDS = 32          # searched fields in one space
MAX_CHOICES = 100        # choices of one categorical field
MAX_GRID = 100_000       # points of a grid (Optuna's GridSampler lists them all)
MAX_PARALLEL = 32        # trials training at once; the user's queue quota bounds it further
MAX_CORNERS = 64         # specs checked in full before a sweep is created
FIXED = {"type", "name", "inputs"}   # what a layer is and how it connects is not a number to search


class Sweep(dict):
    """A checked sweep request: name, base (canonical spec), space, objective, trials, parallel, sampler, pruner."""


def check(data, datasets, max_trials):
    """Give the checked request as a Sweep, or raise SpecError naming every bad field (`space.PATH`...)."""
    if not isinstance(data, dict):
        raise SpecError([FieldError(None, None, "A sweep is a JSON object with name, base, space, objective, "
                                                "trials, parallel, sampler and pruner.")])
    errors = [FieldError(None, str(k), f"A sweep has no field {show(k)}. It has: name, base, space, objective, "
                                       "trials, parallel, sampler, pruner.")
              for k in data if k not in ("name", "base", "space", "objective", "trials", "parallel", "sampler", "pruner")]
    base = validate(data.get("base"), datasets=datasets, require_run=True)   # its own errors, as for a run
    spec = base.to_dict()
    out = Sweep(base=spec, name=_name(data.get("name", spec["name"] or "sweep"), errors))
    out["space"] = _space(data.get("space"), spec, errors)
    out["objective"] = _objective(data.get("objective"), spec, errors)
    out["trials"] = _whole(data.get("trials", 20), "trials", 1, max_trials, errors, "KD_MAX_TRIALS")
    out["parallel"] = _whole(data.get("parallel", 1), "parallel", 1, MAX_PARALLEL, errors)
    out["sampler"] = _one_of(data.get("sampler", "tpe"), "sampler", SAMPLERS, errors)
    out["pruner"] = _one_of(data.get("pruner", "median"), "pruner", PRUNERS, errors)
    if out["sampler"] == "grid" and not errors:
        _check_grid(out["space"], errors)
    if errors:
        raise SpecError(errors)
    return out


def _name(value, errors):
    if not isinstance(value, str) or not value.strip() or len(value) > 100 or not value.isprintable():
        errors.append(FieldError(None, "name", "name must be 1 to 100 printable characters."))
        return "sweep"
    return value.strip()


def _whole(value, field, low, high, errors, setting=None):
    if not is_int(value) or not low <= value <= high:
        limit = f" (this server's {setting})" if setting else ""
        errors.append(FieldError(None, field, f"{field} must be a whole number from {low} to {high}{limit}; got {show(value)}."))
        return low
    return value


def _one_of(value, field, allowed, errors):
    if value not in allowed:
        errors.append(FieldError(None, field, f"{field} must be one of {', '.join(allowed)}; got {show(value)}."))
        return allowed[0]
    return value


def _objective(value, spec, errors):
    keys = log_keys(spec["compile"], spec["fit"]["validation"])
    if not isinstance(value, dict) or set(value) - {"metric", "direction"}:
        errors.append(FieldError(None, "objective", "objective must be {\"metric\": LOG_KEY, \"direction\": "
                                                    f"\"maximize\" or \"minimize\"}}; this run logs {', '.join(keys)}."))
        return {"metric": "val_loss", "direction": "minimize"}
    metric = value.get("metric")
    if metric not in keys:
        errors.append(FieldError(None, "objective.metric", f"The run does not log {show(metric)}; it logs "
                                                           f"{', '.join(keys)} (set by compile.metrics and fit.validation)."))
    direction = value.get("direction", "minimize" if "loss" in str(metric) else "maximize")
    return {"metric": metric, "direction": _one_of(direction, "objective.direction", DIRECTIONS, errors)}


def _space(value, spec, errors):
    if not isinstance(value, dict) or not value:
        errors.append(FieldError(None, "space", "space must name at least one field to search, such as "
                                                "{\"compile.optimizer.learning_rate\": {\"type\": \"float\", "
                                                "\"low\": 0.0001, \"high\": 0.1, \"log\": true}}."))
        return {}
    if len(value) > MAX_FIELDS:
        errors.append(FieldError(None, "space", f"A sweep searches at most {MAX_FIELDS} fields; got {len(value)}."))
        return {}
    out = {}
    for path, field in value.items():
        where = f"space.{path}"
        try:
            current = get(spec, path)
        except KeyError as exc:
            errors.append(FieldError(_layer_of(spec, path), where, exc.args[0]))
            continue
        checked = _field(field, where, current, errors)
        if checked is not None:
            out[path] = checked
    return out


def _field(field, where, current, errors):
    """Give one FIELD in canonical form, or None with its errors appended."""
    if not isinstance(field, dict) or field.get("type") not in TYPES or set(field) - FIELD_KEYS:
        errors.append(FieldError(None, where, f"{where} must be {{\"type\": \"float\" | \"int\" | \"categorical\", "
                                              "\"low\", \"high\", \"log\", \"step\", \"choices\"}; "
                                              f"got {show(field)}."))
        return None
    if field["type"] == "categorical":
        return _categorical(field, where, errors)
    kind = field["type"]
    low, high, log, step = field.get("low"), field.get("high"), field.get("log", False), field.get("step")
    number = is_int if kind == "int" else is_number
    problems = []
    if not number(low) or not number(high) or not (math.isfinite(low) and math.isfinite(high)):
        problems.append(f"low and high must be {'whole ' if kind == 'int' else ''}numbers")
    elif low > high:
        problems.append(f"low ({low}) is above high ({high})")
    if not isinstance(log, bool):
        problems.append("log must be true or false")
    if step is not None and (not number(step) or not step > 0):
        problems.append(f"step must be a positive {'whole ' if kind == 'int' else ''}number")
    if log is True and step is not None and not (kind == "int" and step == 1):
        problems.append("a log range cannot have a step (Optuna samples it continuously)")
    if log is True and not problems and low <= 0:
        problems.append(f"a log range must stay above 0; low is {low}")
    if isinstance(current, bool) or (current is not None and not is_number(current)):
        problems.append(f"the base spec's value here is {show(current)}, not a number: search it with choices")
    if problems:
        errors.append(FieldError(None, where, f"{where}: " + "; ".join(problems) + "."))
        return None
    out = {"type": kind, "low": low, "high": high, "log": log}
    if step is not None:
        out["step"] = step
    return out


def _categorical(field, where, errors):
    choices = field.get("choices")
    if set(field) - {"type", "choices"}:
        errors.append(FieldError(None, where, f"{where}: a categorical field has only choices."))
        return None
    if not isinstance(choices, list) or not 1 <= len(choices) <= MAX_CHOICES:
        errors.append(FieldError(None, where, f"{where}: choices must be a list of 1 to {MAX_CHOICES} values; "
                                              f"got {show(choices)}."))
        return None
    if not all(c is None or isinstance(c, (bool, int, float, str)) and (not isinstance(c, str) or len(c) <= 100)
               for c in choices):
        errors.append(FieldError(None, where, f"{where}: each choice must be a number, text (up to 100 "
                                              "characters), true, false or null."))
        return None
    if len({repr(c) for c in choices}) != len(choices):
        errors.append(FieldError(None, where, f"{where}: a choice is listed twice."))
        return None
    return {"type": "categorical", "choices": list(choices)}


def grid_values(field):
    """Give the values a grid search tries for one FIELD, or None when it has no finite list."""
    if field["type"] == "categorical":
        return list(field["choices"])
    if field["type"] == "int":
        step = field.get("step", 1)
        return list(range(field["low"], field["high"] + 1, step)) if (field["high"] - field["low"]) // step < MAX_GRID else None
    if "step" not in field:
        return None
    count = int(math.floor((field["high"] - field["low"]) / field["step"] + 1e-9)) + 1
    return [round(field["low"] + i * field["step"], 12) for i in range(count)] if count <= MAX_GRID else None


def _check_grid(space, errors):
    size = 1
    for path, field in space.items():
        values = grid_values(field)
        if values is None:
            errors.append(FieldError(None, f"space.{path}", f"space.{path}: a grid search needs a finite list "
                                                            "here: give choices, or a step (at most "
                                                            f"{MAX_GRID:,} points)."))
            return
        size *= len(values)
    if size > MAX_GRID:
        errors.append(FieldError(None, "sampler", f"The grid has {size:,} points; a grid search takes at most "
                                                  f"{MAX_GRID:,}: fewer values, or sampler tpe or random."))


# -- paths into a spec --------------------------------------------------------------------------

def _parts(spec, path):
    """Give (container, key) of PATH in `spec`, or raise KeyError with a message that names what exists."""
    if not isinstance(path, str) or not path:
        raise KeyError("A path is a dotted name such as compile.optimizer.learning_rate.")
    parts = path.split(".")
    if parts[0] == "model":
        if len(parts) != 4 or parts[1] != "layers":
            raise KeyError(f"{path} is not a layer's argument: write model.layers.INDEX.ARG or model.layers.NAME.ARG.")
        layers = spec["model"]["layers"]
        index = next((i for i, l in enumerate(layers) if l.get("name") == parts[2]), None)
        if index is None and parts[2].isdigit() and int(parts[2]) < len(layers):
            index = int(parts[2])
        if index is None:
            raise KeyError(f"{path}: the model has no layer {parts[2]!r} (layers 0 to {len(layers) - 1}, or a layer's name).")
        if parts[3] in FIXED or parts[3] not in layers[index]:
            args = ", ".join(k for k in layers[index] if k not in FIXED)
            raise KeyError(f"{path}: layer {index} ({layers[index]['type']}) has no argument {parts[3]!r} to "
                           f"search; it has: {args or 'none'}.")
        return layers[index], parts[3]
    if parts[0] not in ("compile", "fit") or len(parts) < 2:
        raise KeyError(f"{path} is not in the spec: search model.layers.*, compile.* or fit.* fields.")
    node = spec
    for i, part in enumerate(parts[:-1]):
        node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            raise KeyError(f"{path}: {'.'.join(parts[:i + 1])} is not set in the base spec, so it has nothing to search.")
    if parts[-1] not in node or isinstance(node[parts[-1]], (dict, list)) and parts[-1] != "optimizer":
        raise KeyError(f"{path} is not a field of the base spec; {'.'.join(parts[:-1])} has: {', '.join(node)}.")
    return node, parts[-1]


def _layer_of(spec, path):
    parts = str(path).split(".")
    return int(parts[2]) if len(parts) == 4 and parts[0] == "model" and parts[2].isdigit() else None


def get(spec, path):
    """Give the value at PATH in a canonical spec, or raise KeyError with a message."""
    node, key = _parts(spec, path)
    value = node[key]
    return value["type"] if key == "optimizer" and isinstance(value, dict) else value


def apply(base, params):
    """Give a copy of the canonical spec `base` with each PATH set to its value (optimizer types first).

    A new optimizer type keeps the other optimizer arguments it takes (learning_rate, clipnorm...).
    """
    spec = copy.deepcopy(base)
    for path in sorted(params, key=lambda p: not (p.endswith("optimizer.type") or p == "compile.optimizer")):
        node, key = _parts(spec, path)
        if path in ("compile.optimizer.type", "compile.optimizer"):
            entry = catalog.OPTIMIZERS.get(params[path])
            old = spec["compile"]["optimizer"]
            spec["compile"]["optimizer"] = {"type": params[path], **{
                k: v for k, v in old.items() if k != "type" and (entry is None or entry.param(k) or k == "schedule")}}
        else:
            node[key] = params[path]
    return spec


def corners(space):
    """Give the parameter sets that bound every trial's cost: all lows, all highs, then each choice with highs.

    A model's size and a step's memory grow with units, filters, sizes and batch_size, so the
    highest numbers with each categorical choice in turn is where any trial is largest.
    """
    numeric = {p: f for p, f in space.items() if f["type"] != "categorical"}
    categorical = {p: f["choices"] for p, f in space.items() if f["type"] == "categorical"}
    first = {p: c[0] for p, c in categorical.items()}
    out = [{**{p: f["low"] for p, f in numeric.items()}, **first},
           {**{p: f["high"] for p, f in numeric.items()}, **first}]
    for path, choices in categorical.items():
        out += [{**out[1], path: c} for c in choices[1:]]
    unique = list({repr(sorted(c.items(), key=lambda kv: kv[0])): c for c in out}.values())
    return list(itertools.islice(unique, MAX_CORNERS))
