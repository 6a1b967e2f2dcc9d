"""The catalog and model checks: `GET /api/layers`, `POST /api/models/check`."""

from flask import jsonify
from flask_login import current_user

from ...modelspec import catalog
from ...modelspec.validate import FieldError, SpecError, validate
from .. import services
from . import bp
from .errors import json_body


@bp.get("/layers")
def layers():
    """Give the allow-list: layers with their parameters, optimizers, losses, metrics."""
    return jsonify(catalog.catalog_json())


def checked(data, require_run=False):
    """Give (Spec, dataset description) for a request body, or raise SpecError."""
    registry = services().datasets
    runs = services().runs
    spec = validate(data, datasets=registry.ids(), require_run=require_run,
                    weights=runs.usable_weights(current_user.id), download=runs.download_weights)
    dataset = registry.info(spec.dataset, spec.dataset_options)   # SpecError names a bad dataset option
    if not dataset["available"]:
        raise SpecError([FieldError(None, "dataset", dataset.get("message") or f"{spec.dataset} is not available here.")])
    return spec, dataset


@bp.post("/models/check")
def check():
    """Give each layer's output shape and parameter count, as `model.summary()` would."""
    spec, dataset = checked(json_body())
    return jsonify(services().runs.summarize(spec, dataset))
