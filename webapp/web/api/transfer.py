"""Models in and out: `POST /api/models/import` (Keras JSON or Python, never run), `POST /api/models/export`."""

from flask import jsonify

from ...modelspec import build
from ...modelspec.exporters import keras_json, train_script
from ...modelspec.importers import imports
from ...modelspec.validate import FieldError, SpecError
from . import bp
from .errors import json_body
from .models import checked

EXPORT_FORMATS = ("python", "keras_json")


def _object(data, shape):
    """Give the body when it is a JSON object, or raise SpecError saying what it should look like."""
    if not isinstance(data, dict):
        raise SpecError([FieldError(None, None, f"The body must be a JSON object: {shape}.")])
    return data


@bp.post("/models/import")
def import_model():
    """Give the canonical model, compile and fit read from `source`, with notes of what changed from it."""
    data = _object(json_body(), '{"format": "keras_json" or "python", "source": TEXT, "keras_version": null}')
    return jsonify(imports.import_source(data.get("format"), data.get("source"), data.get("keras_version")))


@bp.post("/models/export")
def export_model():
    """Give the run spec as Keras JSON (`model.to_json()`) or as a runnable train.py."""
    data = dict(_object(json_body(), '{"format": "python" or "keras_json", ...a run spec}'))
    fmt = data.pop("format", None)
    if fmt not in EXPORT_FORMATS:
        raise SpecError([FieldError(None, "format", f"format must be one of {', '.join(EXPORT_FORMATS)}; "
                                                    f"got {fmt!r:.40}.")])
    if fmt == "keras_json":
        spec, dataset = checked(data)
        return jsonify({"source": keras_json.keras_json(spec, dataset["input_shape"])})
    # A script trains, so it needs compile; fit falls back to the catalog's defaults.
    spec, dataset = checked(data, require_run=True)
    build.summarize(spec, dataset)   # the script must build: shape and output errors are answered here
    return jsonify({"source": train_script.python_script(spec, dataset)})
