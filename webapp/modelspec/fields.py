"""Checking one object's parameters against its catalog entry: the field errors, and canonical values.

Used by `validate.py` for layers, optimizers, schedules, callbacks and fit. Pure data, no Keras.
"""

import difflib
import math
from dataclasses import dataclass

from . import catalog

MAX_NAME = 100
MAX_ERRORS = 100    # a 422 lists this many problems, then one more that counts the rest


@dataclass
class FieldError:
    """One problem, located: `layer` is the layer's index (or None), `field` the parameter."""

    layer: int | None
    field: str | None
    message: str

    def to_dict(self):
        """Give the JSON form of the contract's 422 answer."""
        return {"layer": self.layer, "field": self.field, "message": self.message}


class SpecError(ValueError):
    """Raised with every FieldError found (the first MAX_ERRORS, then a count of the rest), so a user
    sees them all at once and a spec of many mistakes still gets a small answer."""

    def __init__(self, errors):
        self.errors = list(errors)
        # Past MAX_ERRORS + 1 (not MAX_ERRORS) so that a capped list re-raised as it is stays as it is.
        if len(self.errors) > MAX_ERRORS + 1:
            rest = len(self.errors) - MAX_ERRORS
            self.errors[MAX_ERRORS:] = [FieldError(None, None, f"{rest:,} more problems are not listed; "
                                                               "mend these and check again.")]
        super().__init__("; ".join(e.message for e in self.errors))


def _describe(p):
    """Say in words which values a parameter accepts."""
    lo, hi = p.min, p.max
    bounds = ""
    if lo is not None and hi is not None:
        left = ">" if p.min_exclusive else "≥"
        right = "<" if p.max_exclusive else "≤"
        bounds = f" {left} {lo:g} and {right} {hi:g}"
    elif lo is not None:
        bounds = f" {'>' if p.min_exclusive else '≥'} {lo:g}"
    if p.kind in ("int", "float"):
        what = ("a whole number" if p.kind == "int" else "a number") + bounds
    elif p.kind == "ints":
        what = f"a whole number ≥ {p.min:g}" + ("" if p.length == 1 else f" or a list of {p.length} of them")
    else:
        what = {"bool": "true or false", "str": "a text",
                "choice": "one of " + ", ".join(map(str, p.choices)),
                "shape": "a list of whole numbers ≥ 1 (one of them may be -1)",
                "weights": '"imagenet", the id of weights uploaded for it (a whole number)',
                "layer": _describe_layer(p)}[p.kind]
    return what + (", or null" if p.nullable else "")


def _describe_layer(p):
    if len(p.choices) > 10:
        return "a layer of the catalog (any but a wrapper)"
    return "a recurrent layer: " + ", ".join(p.choices)


def _in_range(p, v):
    if p.min is not None and (v < p.min or (p.min_exclusive and v == p.min)):
        return False
    if p.max is not None and (v > p.max or (p.max_exclusive and v == p.max)):
        return False
    return True


def is_int(v):
    """Say whether v is a whole number (an int, or a float such as 3.0)."""
    return isinstance(v, int) and not isinstance(v, bool) or (
        isinstance(v, float) and math.isfinite(v) and v.is_integer())


def is_number(v):
    """Say whether v is a finite number (not a bool)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def coerce(p, v):
    """Give the canonical value of `v` for Param `p`; raise ValueError when it is not accepted."""
    if v is None:
        if p.nullable:
            return "linear" if p.name == "activation" else None
        raise ValueError
    if p.kind == "int" and is_int(v) and _in_range(p, v):
        return int(v)
    if p.kind == "float" and is_number(v) and _in_range(p, v):
        return float(v)
    if p.kind == "bool" and isinstance(v, bool):
        return v
    if p.kind == "choice" and isinstance(v, str) and v in p.choices:
        return v
    if p.kind == "str" and isinstance(v, str) and 0 < len(v) <= MAX_NAME:
        return v
    if p.kind == "ints":
        items = [v] if is_int(v) else v
        if isinstance(items, (list, tuple)) and len(items) in (1, p.length) and all(
                is_int(i) and _in_range(p, i) for i in items):
            items = [int(i) for i in items] * (p.length if len(items) == 1 else 1)
            return items[0] if p.length == 1 else items
    if p.kind == "weights" and (v == "imagenet" or is_int(v) and 1 <= v <= 2**53):
        return v if v == "imagenet" else int(v)
    if p.kind == "shape" and isinstance(v, (list, tuple)) and 1 <= len(v) <= 8 and all(
            is_int(i) and (1 <= i <= 10_000_000 or i == -1) for i in v) and list(v).count(-1) <= 1:
        return [int(i) for i in v]
    raise ValueError


def suggest(word, options):
    """Give " Did you mean 'x'?" for the closest of `options`, or ""."""
    close = difflib.get_close_matches(str(word), list(options), n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""


def check_params(entry, given, errors, layer=None, prefix="", what=None):
    """Give `given`'s parameters for catalog `entry` with defaults filled; append FieldErrors."""
    what = what or entry.type
    out = {}
    for key in given:
        if key != "type" and entry.param(key) is None:
            names = ", ".join(p.name for p in entry.params) or "none"
            errors.append(FieldError(layer, prefix + str(key),
                                     f"{what} has no parameter '{key}'.{suggest(key, [p.name for p in entry.params])}"
                                     f" Its parameters: {names}."))
    for p in entry.params:
        if p.name not in given:
            if p.required:
                errors.append(FieldError(layer, prefix + p.name, f"{what} needs {p.name}: {_describe(p)}."))
            else:
                out[p.name] = p.default
            continue
        if p.kind == "layer":
            out[p.name] = _check_inner_layer(entry.type, p, given[p.name], errors, layer, prefix + p.name + ".")
            continue
        try:
            out[p.name] = coerce(p, given[p.name])
        except ValueError:
            errors.append(FieldError(layer, prefix + p.name,
                                     f"{what}: {p.name} must be {_describe(p)}; got {show(given[p.name])}."))
    return out


def show(v):
    """Give a value as a message shows it: short, strings in quotes."""
    text = repr(v) if not isinstance(v, str) else f"'{v}'"
    return text if len(text) <= 40 else text[:37] + "..."


def _check_inner_layer(wrapper, p, value, errors, layer, prefix):
    if not isinstance(value, dict) or value.get("type") not in p.choices:
        errors.append(FieldError(layer, prefix + "type", f"{wrapper} wraps {_describe(p)}; got {show(value)}."))
        return None
    entry = catalog.LAYERS[value["type"]]
    return {"type": entry.type, **check_params(entry, value, errors, layer, prefix, what=entry.type)}
