"""Pretrained backbones and their weights: `GET /api/pretrained`, `POST/GET /api/weights`, `DELETE /api/weights/ID`."""

import json

from flask import current_app, jsonify, request
from flask_login import current_user

from ...modelspec import pretrained
from ...runs import uploaded_weights
from ...runs.uploaded_weights import WeightsError
from .. import services
from . import bp
from .errors import error

MAX_ARGS = 1000   # characters of the `args` form field


@bp.get("/pretrained")
def pretrained_models():
    """Give every backbone with its sizes, parameters and whether its ImageNet weights are in Keras's cache."""
    cache = pretrained.keras_cache()
    models = []
    for b in pretrained.TABLE:
        name = pretrained.weights_file(b.type)
        models.append({**pretrained.summary(b.type), "weights": {"imagenet": {
            "available": bool(name) and (cache / name).is_file(), "file": name, "folder": str(cache),
            "download": current_app.config.get("KD_DOWNLOAD_WEIGHTS", False)}}})
    return jsonify({"models": models})


def _owner_filter():
    """Give whose uploads the signed-in user sees: their own, or everyone's (None) for an admin."""
    return None if current_user.role == "admin" else current_user.id


@bp.get("/weights")
def list_weights():
    """Give the uploaded weights the signed-in user may use (an admin: all)."""
    return jsonify({"weights": uploaded_weights.listing(services().store, _owner_filter())})


@bp.post("/weights")
def upload_weights():
    """Receive a weights file (multipart `file`, `model`, optional `args` JSON such as {"alpha": 0.35}): 201 once it loads into that architecture."""
    file = request.files.get("file")
    if file is None or not file.filename:
        return error(400, "file: choose a weights file (multipart form field `file`): .weights.h5 or .h5.")
    try:
        args = json.loads(request.form.get("args") or "{}") if len(request.form.get("args") or "") <= MAX_ARGS else None
    except ValueError:
        args = None
    model = request.form.get("model") or ""
    if not isinstance(args, dict):
        return error(400, 'args: give the backbone\'s arguments as a JSON object such as {"alpha": 0.35}.')
    known = pretrained.BACKBONES.get(model)
    if known:
        for key, value in args.items():
            choices = known.args.get(key, (None, ()))[1]
            if key not in known.args or (choices != "bool" and value not in choices) or (choices == "bool" and not isinstance(value, bool)):
                return jsonify({"ok": False, "errors": [{"layer": None, "field": f"args.{key}", "message":
                                f"{model} takes {', '.join(known.args) or 'no arguments'} here; got {key}={value!r:.40}."}]}), 422
    try:
        row = uploaded_weights.receive(services().store, services().data_dir, current_user.id, model,
                                       pretrained.arguments(model, args) if known else args, file.filename, file.save,
                                       max_per_owner=current_app.config["KD_MAX_WEIGHTS_PER_USER"])
    except WeightsError as exc:
        if exc.status == 422:
            return jsonify({"ok": False, "errors": [{"layer": None, "field": exc.field, "message": str(exc)}]}), 422
        return error(exc.status, str(exc))
    return jsonify({"weights": row}), 201


@bp.delete("/weights/<int:weights_id>")
def delete_weights(weights_id):
    """Delete uploaded weights (their owner or an admin): 204."""
    try:
        uploaded_weights.delete(services().store, services().data_dir, weights_id)
    except WeightsError as exc:
        return error(exc.status, str(exc))
    return "", 204
