"""The import answer both importers give: checked parts, warnings, and the notes of what changed.

A note is `{"line", "was", "now", "why"}` (the contract's form) plus, when it changed a field the
builder shows, `"layer"` (its index) and `"field"` (`units`, `compile.optimizer.learning_rate`,
`fit.epochs`, `keras_version`...), so the page can take the user to it. Pure: no Keras, no Flask.
"""

from .. import catalog, pretrained
from ..fields import FieldError, SpecError
from ..validate import validate

MAX_WARNINGS = 100
MAX_NOTES = 200
MAX_KEPT = 1000   # distinct warnings, and notes, a Python import keeps while it reads (a loop repeats them)


def note(line, was, now, why, layer=None, field=None):
    """Give one note of what the import changed; `was` and `now` shortened for the page."""
    out = {"line": line, "was": _short(was), "now": _short(now), "why": why}
    if layer is not None:
        out["layer"] = layer
    if field is not None:
        out["field"] = field
    return out


def _short(text):
    text = " ".join(str(text).split())
    return text if len(text) <= 80 else text[:77] + "..."


def finish(layers, compile_spec, fit, warnings, where=None, notes=(), extra=None):
    """Give the import answer: the parts run through `validate`, so defaults are filled.

    where(error) may give a prefix such as "Line 12: " that locates an error in the source.
    extra: more top-level spec parts (predict) and answer fields (keras_version; dataset, else null).
    """
    extra = dict(extra or {})
    data = {"dataset": "imported", "model": {"layers": layers}}
    if compile_spec is not None:
        data["compile"] = compile_spec
    if fit is not None:
        data["fit"] = fit
    if extra.get("predict") is not None:
        data["predict"] = extra["predict"]
    try:
        data, put_back = _stand_ins(data)
        spec = put_back(validate(data))
    except SpecError as exc:
        if where is None:
            raise
        raise SpecError([FieldError(e.layer, e.field, where(e) + e.message) for e in exc.errors]) from None
    warnings = list(dict.fromkeys(warnings))
    if len(warnings) > MAX_WARNINGS:
        warnings = warnings[:MAX_WARNINGS] + [f"... and {len(warnings) - MAX_WARNINGS} more warnings"]
    notes = _unique(notes)
    if len(notes) > MAX_NOTES:
        notes = notes[:MAX_NOTES] + [note(None, "", "", f"... and {len(notes) - MAX_NOTES} more notes")]
    answer = {"model": {"layers": spec.layers}, "compile": spec.compile, "fit": spec.fit,
              "dataset": extra.get("dataset"), "warnings": warnings, "notes": notes}
    if spec.predict is not None:
        answer["predict"] = spec.predict
    answer.update({k: v for k, v in extra.items() if k != "predict"})
    return answer


def _stand_ins(data):
    """Give the spec data `validate` checks, and a function that puts back into its Spec what it does not know yet.

    A backbone layer (pretrained.py) the catalog does not list yet, and fit.fine_tune, are checked here:
    the backbone stands in as a linear Activation with its name and inputs. A backbone the catalog
    lists is left to validate; fit.fine_tune always stands aside, so once validate checks it (the
    backbones work), delete the fine_tune part here and let validate canonicalise it.
    """
    layers, fit = data["model"]["layers"], data.get("fit")
    backbones = {i: layer for i, layer in enumerate(layers)
                 if layer.get("type") in pretrained.BACKBONES and layer["type"] not in catalog.LAYERS}
    fine_tune = fit.get("fine_tune") if isinstance(fit, dict) else None
    errors = [e for i, layer in backbones.items() for e in _check_backbone(i, layer)] + _check_fine_tune(fine_tune)
    if errors:
        raise SpecError(errors)
    if not backbones and fine_tune is None:
        return data, lambda spec: spec
    data = {**data, "model": {"layers": [
        {"type": "Activation", "activation": "linear", **{k: v for k, v in layer.items() if k in ("name", "inputs")}}
        if i in backbones else layer for i, layer in enumerate(layers)]}}
    if isinstance(fit, dict):
        data["fit"] = {k: v for k, v in fit.items() if k != "fine_tune"}

    def put_back(spec):
        for i, layer in backbones.items():
            spec.layers[i] = {**layer, **{k: v for k, v in spec.layers[i].items() if k in ("name", "inputs")}}
        if fine_tune is not None and spec.fit is not None:
            spec.fit["fine_tune"] = fine_tune
        return spec
    return data, put_back


def _check_backbone(index, layer):
    """Give the errors of a backbone layer's fields, against pretrained.py's table."""
    errors, kind = [], layer["type"]
    allowed = {"type", "weights", "include_top", "pooling", "trainable", "name", "inputs",
               *pretrained.BACKBONES[kind].args}
    for key in set(layer) - allowed:
        errors.append(FieldError(index, key, f"{kind} has no field {key}; it has {', '.join(sorted(allowed))}."))
    checks = (("weights", layer.get("weights") in ("imagenet", None), '"imagenet" or null'),
              ("include_top", layer.get("include_top") is False, "false"),
              ("pooling", layer.get("pooling") in (None, "avg", "max"), '"avg", "max" or null'),
              ("trainable", isinstance(layer.get("trainable"), bool), "true or false"))
    errors += [FieldError(index, key, f"{kind}: {key} must be {what}.") for key, ok, what in checks if not ok]
    for key, (_, choices) in pretrained.BACKBONES[kind].args.items():
        value = layer.get(key)
        if key in layer and not (isinstance(value, bool) if choices == "bool" else value in choices):
            errors.append(FieldError(index, key, f"{kind}: {key} must be one of {choices}; got {value!r:.40}."))
    return errors


def _check_fine_tune(value):
    """Give the errors of fit.fine_tune {"epochs", "unfreeze": N | "all", "learning_rate"} (None: none)."""
    if value is None:
        return []
    epochs, unfreeze, rate = (value.get(k) for k in ("epochs", "unfreeze", "learning_rate"))
    whole = lambda v: isinstance(v, int) and not isinstance(v, bool)   # noqa: E731
    checks = (("epochs", whole(epochs) and 1 <= epochs <= 10_000, "a whole number of epochs from 1"),
              ("unfreeze", unfreeze == "all" or whole(unfreeze) and unfreeze >= 1, 'a layer count from 1, or "all"'),
              ("learning_rate", isinstance(rate, (int, float)) and not isinstance(rate, bool) and 0 < rate <= 100,
               "a learning rate above 0"))
    return [FieldError(None, f"fit.fine_tune.{key}", f"fit.fine_tune.{key} must be {what}.")
            for key, ok, what in checks if not ok]


def note_key(item):
    """Give what makes a note the same as another."""
    return tuple(sorted((k, str(v)) for k, v in item.items()))


def _unique(notes):
    seen, out = set(), []
    for item in notes:
        key = note_key(item)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def refuse(index, field, message):
    """Raise the SpecError that refuses one layer."""
    raise SpecError([FieldError(index, field, message)])


def shape_note(dims):
    """Give the note that an input shape (per sample) from the source is not used."""
    text = "(" + ", ".join(str(d) for d in dims) + ("," if len(dims) == 1 else "") + ")"
    return f"input shape {text} ignored: the dataset gives the input shape"
