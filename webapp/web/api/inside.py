"""Inside predict: one image's pass through a run's saved model, its saliency, kernels, weight histograms.

Thin: the Keras work is in `webapp/predict/inside.py` and `webapp/predict/saliency.py`; this module
finds the run, the image and the saved model, and answers. An image is a test split index (`7`) or an uploaded
image's key (`own-…`, kept in memory for a while after `POST /api/runs/ID/inside`).
"""

import collections
import hashlib
import io
import threading

import numpy as np
from flask import current_app, g, jsonify, request, send_file

from ...modelspec.numbers import whole
from ...predict import heatmaps, inside, saliency, user_image
from ...runs import weight_histograms
from ...datasets import DatasetError
from ...runs import paths
from ...predict.predictions import class_name
from . import bp
from .errors import error
from . import sequence_views
from .predictions import Missing, _dataset, _run, run_dir, runnable, state as prediction_state

OWN_KEPT = 32              # uploaded images kept for their inside views (the oldest go first)


class State:
    """Per app: the Inspector (models and passes) and the uploaded images by key."""

    def __init__(self):
        self.inspector = prediction_state().inspector   # one loaded copy per model, with predict-one
        self.own = collections.OrderedDict()
        self.lock = threading.Lock()

    def keep_own(self, x):
        """Keep an uploaded image's input (1, H, W, C) and give its key."""
        key = "own-" + hashlib.sha1(x.tobytes()).hexdigest()[:16]
        with self.lock:
            self.own[key] = x
            self.own.move_to_end(key)
            while len(self.own) > OWN_KEPT:
                self.own.popitem(last=False)
        return key


def state():
    """Give this app's inside State."""
    extensions = current_app.extensions
    if "kd_inside" not in extensions:   # not setdefault: a State is made once, not on every call
        extensions["kd_inside"] = State()
    return extensions["kd_inside"]


@bp.errorhandler(inside.InsideError)
def _bad(exc):
    """Answer a bad class, layer or page with 400 and what is accepted."""
    return error(400, str(exc))


def _model_path(run):
    """Give the run's saved model.keras, or raise Missing(409) saying when there will be one."""
    path = run_dir(run.id) / paths.MODEL
    if not path.exists():
        raise Missing(409, f"Run {run.id} has no saved model yet: it is saved after each finished epoch "
                           f"(this run is {run.status}).")
    return path


def _input(run, image):
    """Give (x: a batch of one as the trainer feeds it, true class or None) of a test index or an upload key."""
    if image.startswith("own-"):
        with state().lock:
            x = state().own.get(image)
        if x is None:
            raise Missing(404, f"The uploaded image {image} is no longer kept; upload it again.")
        return x, None
    index = whole(image)
    if index is None:
        raise Missing(404, f"image must be a test split index (0, 1, …) or an uploaded image's key; got {image[:40]!r}.")
    try:
        if sequence_views.kind_of(run) != sequence_views.IMAGE:
            data = sequence_views.load(run)
        else:
            data = current_app.extensions["kd"].datasets.load(run.dataset)
    except DatasetError as exc:
        raise Missing(409, f"The dataset {run.dataset!r} of run {run.id} cannot be loaded here: {exc}") from None
    if index >= len(data.x_test):
        raise Missing(404, f"index {index} is outside the test split ({len(data.x_test)} samples: "
                           f"0..{len(data.x_test) - 1}).")
    if data.kind != "image":
        return sequence_views.sample_input(data, index)
    x = (data.x_test[index].astype(np.float32) / np.float32(data.pixel_max))[None]
    return x, int(data.y_test[index])


def _loaded(path):
    """Give the Loaded model, or raise Missing(409) when Keras cannot load the file."""
    try:
        return state().inspector.loaded(path)
    except Exception as exc:   # a damaged or half-copied file: say so, never a 500
        raise Missing(409, f"The saved model could not be loaded: {type(exc).__name__}: {exc}") from None


def _pass(run, image):
    """Give (path, loaded, x, true class, forward) for a run's image."""
    path = _model_path(run)
    runnable(run)   # before the model is loaded or the image read
    x, true = _input(run, image)
    loaded = _loaded(path)
    x = sequence_views.fit_input(loaded.model, x)   # a text batch shaped to the model's string Input
    return path, loaded, x, true, state().inspector.forward(path, image, x)


def _whole(name, default=None):
    """Give the whole-number query parameter `name` (default when absent); InsideError otherwise."""
    value = request.args.get(name, "")
    if value == "":
        return default
    found = whole(value)
    if found is None:
        raise inside.InsideError(f"{name} must be a whole number (0, 1, …); got {value[:40]!r}.")
    return found


def _with_share(url):
    """Give url with the request's share token, so images open for a share link's visitor too."""
    token = request.args.get("share") if g.get("share_run") else None
    return f"{url}{'&' if '?' in url else '?'}share={token}" if token else url


def _saliency(path, image, x, klass, layer):
    """Give the Saliency of a class (cached with the pass)."""
    key = (inside.saved_version(path), image, "saliency", klass, layer)
    return state().inspector.cached(key, lambda: state().inspector.run(path, lambda l: saliency.compute(l, x, klass, layer)))


def _answer(run, image):
    """Give the inside view's JSON of one image."""
    path, loaded, x, true, forward = _pass(run, image)
    index = whole(image)   # None for an uploaded image's key
    names, _ = _dataset(run)
    base = f"/api/runs/{run.id}/inside/{image}"
    klass = _whole("class", forward.predicted)
    if sequence_views.kind_of(run) != sequence_views.IMAGE:
        return _sequence_answer(run, image, (path, loaded, x, true, forward), names, klass)
    layer = request.args.get("layer") or None
    found = _saliency(path, image, x, klass, layer)
    query = f"class={klass}" + (f"&layer={found.layer}" if layer else "")
    kernels = inside.first_conv(loaded) is not None

    def url(i, page):
        return _with_share(f"{base}/layers/{i}.png" + ("" if page is None else f"?page={page}"))

    return {
        "run_id": run.id, "image": image, "index": index, "true": true,
        "epoch": run.epochs_done, "predicted": forward.predicted, "name": class_name(names, forward.predicted),
        "probabilities": [float(p) for p in forward.probabilities],
        "class_names": [class_name(names, k) for k in range(len(forward.probabilities))],
        "image_url": _with_share(f"/api/datasets/{run.dataset}/images/test/{index}.png") if index is not None else None,
        "layers": inside.panels(loaded, forward, names, url),
        "saliency": {"method": found.method, "layer": found.layer, "class": found.klass, "note": found.note,
                     "uniform": found.uniform, "map": saliency.as_numbers(found),
                     "layers": loaded.feature_layers, "default_layer": (loaded.conv_layers or [None])[-1],
                     "image_url": _with_share(f"{base}/saliency.png?{query}")},
        "kernels": {"image_url": _with_share(f"/api/runs/{run.id}/kernels.png")} if kernels else None,
        "learning": inside.learning(run_dir(run.id), index) if index is not None else None,
    }


def _sequence_answer(run, image, passed, names, klass):
    """Give the inside view of a text, sequence or series sample: its layers, and the tokens' (or steps') attributions."""
    path, loaded, x, true, forward = passed
    saliency.check_class(loaded, klass)
    data = sequence_views.load(run)
    key = (inside.saved_version(path), image, "explain", klass)
    explained = state().inspector.cached(key, lambda: state().inspector.run(
        path, lambda l: sequence_views.explain(l, data, x, klass)))
    index = whole(image)

    def url(i, page):
        return _with_share(f"/api/runs/{run.id}/inside/{image}/layers/{i}.png" + ("" if page is None else f"?page={page}"))

    return {
        "run_id": run.id, "image": image, "index": index, "true": true, "kind": data.kind,
        "epoch": run.epochs_done, "predicted": forward.predicted, "name": class_name(names, forward.predicted),
        "probabilities": [float(p) for p in forward.probabilities],
        "class_names": [class_name(names, k) for k in range(len(forward.probabilities))],
        "image_url": None, "class": klass, **sequence_views.shown(data, x), **explained,
        "layers": inside.panels(loaded, forward, names, url), "saliency": None, "kernels": None,
        "learning": inside.learning(run_dir(run.id), index) if index is not None else None,
    }


def _png(data):
    return send_file(io.BytesIO(data), mimetype="image/png", max_age=0)


@bp.get("/runs/<int:run_id>/inside/<image>")
def inside_view(run_id, image):
    """Give every layer's output for one test image (or uploaded image), its saliency, and its learning strip."""
    return jsonify(_answer(_run(run_id), image))


@bp.post("/runs/<int:run_id>/inside")
def inside_own(run_id):
    """Take an uploaded image (multipart `image`) and give its inside view, with a key for its pictures."""
    run = _run(run_id)
    if sequence_views.kind_of(run) != sequence_views.IMAGE:
        return error(400, f"image: run {run.id}'s dataset {run.dataset!r} holds {sequence_views.kind_of(run)} data; "
                          "send JSON {\"text\"} or {\"series\"} to POST /api/runs/ID/predict, whose answer has the attributions.")
    file = request.files.get("image")
    if file is None:
        return error(400, "image: send an image file as the multipart form field `image` (PNG, JPEG, GIF, BMP, WebP).")
    _model_path(run)
    runnable(run)
    try:
        look = prediction_state().look(run.dataset)
    except DatasetError as exc:
        raise Missing(409, f"The dataset {run.dataset!r} of run {run.id} cannot be loaded here: {exc}") from None
    img = user_image.read_image(file.stream, user_image.MAX_BYTES)
    x, _ = user_image.to_input(img, look)
    return jsonify(_answer(run, state().keep_own(x)))


@bp.get("/runs/<int:run_id>/inside/<image>/layers/<int:layer>.png")
def inside_layer(run_id, image, layer):
    """Give a layer's picture for one image: a page of channel heat-maps (`?page=`), or time × units."""
    _, loaded, _, _, forward = _pass(_run(run_id), image)
    if layer >= len(loaded.layers):
        raise inside.InsideError(f"layer must be a whole number from 0 to {len(loaded.layers) - 1}; got {layer}.")
    page = "steps" if request.args.get("page") == "steps" else _whole("page", 0)   # an RNN's states over time
    return _png(inside.layer_png(forward, layer, page))


@bp.get("/runs/<int:run_id>/inside/<image>/saliency.png")
def inside_saliency(run_id, image):
    """Give the image with its saliency for `?class=` (default: the predicted one) laid over it."""
    run = _run(run_id)
    if sequence_views.kind_of(run) != sequence_views.IMAGE:
        raise inside.InsideError(f"Run {run.id}'s inputs are not images: its attributions are in the inside view's "
                                 "`tokens` or `attribution`, not a picture.")
    path, _, x, _, forward = _pass(run, image)
    found = _saliency(path, image, x, _whole("class", forward.predicted), request.args.get("layer") or None)
    return _png(heatmaps.overlay(x[0], found.map))


@bp.get("/runs/<int:run_id>/kernels.png")
def inside_kernels(run_id):
    """Give the first convolution's kernels as small images (404 when the model has none)."""
    run = _run(run_id)
    path = _model_path(run)
    loaded = _loaded(path)
    if inside.first_conv(loaded) is None:
        return error(404, f"Run {run.id}'s model has no 2-D convolution layer, so it has no kernels to draw.")
    return _png(state().inspector.cached((inside.saved_version(path), "kernels"),
                                         lambda: state().inspector.run(path, inside.kernels_png)))


@bp.get("/runs/<int:run_id>/histograms")
def histograms(run_id):
    """Give the per-epoch weight histograms the trainer recorded ({"layers": []} before the first epoch).

    The file is the answer (runs.paths.json_text of the document), so it is sent as it is, never
    parsed here: a request costs the file's bytes, which the trainer keeps bounded (epochs_kept).
    """
    run = _run(run_id)
    try:
        stored = open(run_dir(run.id) / weight_histograms.FILE, "rb")   # send_file closes it
    except FileNotFoundError:
        return jsonify(weight_histograms.empty())
    return send_file(stored, mimetype="application/json", max_age=0)
