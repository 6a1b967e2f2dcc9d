"""Batch predict: several `image` parts or JSON {"instances": [...]} on POST /api/runs/ID/predict, one answer per instance in order.

The single-image answer (one `image` part, no instances) stays predict-one's, in predictions.py.
"""

import numpy as np
from flask import current_app, jsonify, request

from ...datasets import DatasetError
from ...predict import batch, predictions as preds, web_bound
from ...runs import paths
from .. import services
from . import bp
from .predictions import Missing, _dataset, run_dir, runnable, state


def is_batch():
    """Say whether a predict request is a batch: JSON with `instances`, or a multipart form with more than one `image` part.

    Any other JSON goes on to predict-one's checks (and to the other JSON inputs that endpoint takes).
    """
    if request.is_json:
        _bounded("instances")
        body = request.get_json(silent=True)
        return isinstance(body, dict) and "instances" in body
    if (request.content_type or "").startswith("multipart/"):
        _bounded("image")
        return len(request.files.getlist("image")) > 1
    return False


def _bounded(field):
    """Refuse (400, naming `field`) a request body past MAX_TOTAL_BYTES, before it is read."""
    if request.content_length and request.content_length > batch.MAX_TOTAL_BYTES:
        raise Missing(400, f"{field}: the request is larger than {batch.MAX_TOTAL_BYTES // 2**20} MB; send fewer or "
                           "smaller instances per request.")


@bp.errorhandler(batch.BatchError)
def _batch_error(exc):
    """Answer a batch that cannot be predicted: 422 naming the instance or part."""
    return jsonify({"ok": False, "errors": [{"layer": None, "field": exc.field, "message": exc.message}]}), 422


def predict_batch(run):
    """Give {"predictions": [{predicted, name, confidence, top}]}, one per instance in order, for a batch request."""
    cfg = current_app.config
    path = run_dir(run.id) / paths.MODEL
    if not path.exists():
        raise Missing(409, f"Run {run.id} has no saved model yet: it is saved after each finished epoch.")
    runnable(run)
    info = services().datasets.info(run.dataset)
    if request.is_json:
        x = batch.from_arrays(request.get_json()["instances"], info["input_shape"], float(info["pixel_max"]),
                              cfg["KD_MAX_PREDICT_BATCH"])
    else:
        try:
            look = state().look(run.dataset)
        except DatasetError as exc:
            raise Missing(409, f"The dataset {run.dataset!r} of run {run.id} cannot be loaded here: {exc}") from None
        x = batch.from_images(request.files.getlist("image"), look, cfg["KD_MAX_PREDICT_BATCH"])
    per_call = web_bound.per_call(run.spec, run.summary, info["input_shape"], cfg["KD_MAX_WEB_ACTIVATION_MB"])
    outputs = [state().models.predict(path, x[a:b]) for a, b in batch.chunks(len(x), per_call)]
    predicted, confidence, top, top_p = preds.top_classes(np.concatenate(outputs))
    names, _ = _dataset(run)
    return jsonify({"predictions": [
        {"predicted": int(predicted[i]), "name": preds.class_name(names, predicted[i]), "confidence": float(confidence[i]),
         "top": [{"class": int(c), "name": preds.class_name(names, c), "p": float(p)} for c, p in zip(top[i], top_p[i])]}
        for i in range(len(predicted))]})
