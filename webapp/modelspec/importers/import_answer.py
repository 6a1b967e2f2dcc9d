"""The import answer both importers give: checked parts, warnings, and the notes of what changed.

A note is `{"line", "was", "now", "why"}` (the contract's form) plus, when it changed a field the
builder shows, `"layer"` (its index) and `"field"` (`units`, `compile.optimizer.learning_rate`,
`fit.epochs`, `keras_version`...), so the page can take the user to it. Pure: no Keras, no Flask.
"""

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
        spec = validate(data)
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
