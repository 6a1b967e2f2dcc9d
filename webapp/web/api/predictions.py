"""Predictions: the gallery's rows, the confusion matrix, the latest epoch's sample, and predict-one."""

import base64
import math
import threading
from urllib.parse import quote

from flask import Response, current_app, jsonify, request

from ...predict import inside, predictions as preds, thumbnails, user_image, web_bound
from ...datasets import DatasetError
from ...runs import journal, paths
from ...predict.saved_models import ModelCache
from ...db.store import Run
from .. import services
from . import bp, sequence_views
from .errors import error

THUMB_PX = 72          # a gallery thumbnail's side, about; the server upscales with nearest neighbours
MAX_SCALE = 32
# A sprite URL with the file's version (?v=) never changes its pixels; without it, revalidate each time.
IMMUTABLE, REVALIDATE = "private, max-age=31536000, immutable", "private, no-cache"


class State:
    """Per app: loaded prediction files, loaded models, and the looks of datasets."""

    def __init__(self):
        self.files = preds.FileCache()
        self.models = ModelCache()
        self.inspector = inside.Inspector(self.models)   # the inside view's too: one loaded copy per model
        self.looks = {}
        self.sprites = thumbnails.SpriteCache()
        self.lock = threading.Lock()

    def look(self, ds_id):
        """Give a dataset's Look (computed once per dataset; DatasetError when it cannot be loaded)."""
        with self.lock:
            if ds_id in self.looks:
                return self.looks[ds_id]
        data = services().datasets.load(ds_id)
        look = user_image.dataset_look(data.x_train, data.pixel_max)
        with self.lock:
            self.looks[ds_id] = look
        return look


def state():
    """Give this app's prediction State."""
    return current_app.extensions.setdefault("kd_predictions", State())


class Missing(Exception):
    """Something a request needs is not there (yet): status and message for the answer."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status, self.message = status, message


@bp.errorhandler(Missing)
def _missing(exc):
    """Answer a Missing with its status and message."""
    return error(exc.status, exc.message)


@bp.errorhandler(preds.QueryError)
@bp.errorhandler(thumbnails.SpriteError)
@bp.errorhandler(user_image.ImageError)
def _bad_request(exc):
    """Answer a bad query parameter or image with 400 and what is wrong."""
    return error(400, str(exc))


def _run(run_id):
    """Give the run's row (detached), or raise Missing(404)."""
    with services().store.session() as s:
        run = s.get(Run, run_id)
    if run is None:
        raise Missing(404, f"There is no run {run_id}.")
    return run


def runnable(run):
    """Refuse (422, naming its largest layer) a run whose model needs more than KD_MAX_WEB_ACTIVATION_MB for one image here."""
    info = services().datasets.info(run.dataset, sequence_views.options(run))
    if info is None:
        raise Missing(409, f"The dataset {run.dataset!r} of run {run.id} cannot be loaded here: it no longer exists.")
    web_bound.check(run.id, run.spec, run.summary, info["input_shape"], current_app.config["KD_MAX_WEB_ACTIVATION_MB"])


def run_dir(run_id):
    """Give the folder of a run's files in this app's data directory."""
    return paths.run_dir(services().data_dir, run_id)


def _dataset(run):
    """Give (class names, number of classes) of the run's dataset."""
    info = services().datasets.info(run.dataset) or {}
    names = list(info.get("class_names") or [])
    return names, int(info.get("num_classes") or len(names))


def _stored(run, name=preds.FILE):
    """Give the run's stored predictions, or raise Missing saying when they will exist."""
    found = state().files.get(run_dir(run.id) / name)
    if found is not None:
        return found
    if name == preds.EPOCH_FILE:
        raise Missing(404, f"Run {run.id} has no epoch predictions yet: they are made after each finished epoch.")
    if run.status in journal.ACTIVE:
        raise Missing(409, f"Run {run.id} is {run.status}; its test predictions are made when it completes or is stopped.")
    raise Missing(404, f"Run {run.id} has no test predictions: they are made when a run completes or is stopped "
                       f"(this one is {run.status}).")


def _items(run, found, positions, names):
    """Give the contract's items, each with its image_url on the dataset's image endpoint (or its text or series)."""
    prefix = f"/api/datasets/{quote(run.dataset, safe='')}/images/test"   # the contract's image path
    items = found.rows(positions, names)
    if sequence_views.kind_of(run) != sequence_views.IMAGE:
        return sequence_views.add_samples(run, items)
    for item in items:
        item["image_url"] = f"{prefix}/{item['index']}.png"
    return items


def _selected(run, name):
    """Give (stored predictions, the request's Query, the positions it selects in order, class names)."""
    found = _stored(run, name)
    names, num_classes = _dataset(run)
    query = preds.parse_query(request.args, max(num_classes, int(found.top_classes.max(initial=0)) + 1))
    return found, query, found.select(query), names


def _page(run, name):
    """Give the paged, filtered answer of a predictions file for the request's query."""
    found, query, positions, names = _selected(run, name)
    page = positions[query.offset:query.offset + query.limit]
    return {"total": int(len(positions)), "items": _items(run, found, page, names), "epoch": found.epoch,
            "counts": found.counts(query), "offset": query.offset, "limit": query.limit, "version": found.version}


@bp.get("/runs/<int:run_id>/predictions")
def predictions(run_id):
    """Give the run's test predictions: paged (offset, limit), filtered (filter, true, pred), sorted."""
    return jsonify(_page(_run(run_id), preds.FILE))


@bp.get("/runs/<int:run_id>/predictions/epoch")
def sample(run_id):
    """Give the latest finished epoch's predictions on a fixed sample, each with `previous` and `changed`."""
    return jsonify(_page(_run(run_id), preds.EPOCH_FILE))


@bp.get("/runs/<int:run_id>/predictions/sprite.png")
def predictions_sprite(run_id):
    """Give the thumbnails of a predictions page (same query) as one PNG sprite, `?scale=N`."""
    return _sprite(_run(run_id), preds.FILE)


@bp.get("/runs/<int:run_id>/predictions/epoch/sprite.png")
def sample_sprite(run_id):
    """Give the thumbnails of a page of the latest epoch's sample as one PNG sprite, `?scale=N`."""
    return _sprite(_run(run_id), preds.EPOCH_FILE)


def _sprite(run, name):
    """Answer a sprite request: 304 when the client has these pixels, else the PNG (drawn once per ETag)."""
    found, query, positions, _ = _selected(run, name)
    info = services().datasets.info(run.dataset)
    if info is None:
        raise Missing(404, f"The dataset {run.dataset!r} of run {run.id} no longer exists.")
    if (info.get("kind") or "image") != "image":
        raise Missing(404, f"Run {run.id}'s dataset {run.dataset!r} holds {info['kind']} data: its predictions "
                           "carry their text or series, and there are no thumbnails to draw.")
    height, width = info["input_shape"][:2]
    scale = preds.whole(request.args, "scale", thumb_scale(info), 1, MAX_SCALE)
    thumbnails.check(query.limit, height, width, scale)   # refused before any image is read or drawn
    indexes = found.index[positions[query.offset:query.offset + query.limit]]
    if not len(indexes):
        raise Missing(404, "No test images on this page of the query: there is no sprite to draw.")
    tag = thumbnails.etag(run.dataset, info.get("created_at"), indexes, scale)
    caching = IMMUTABLE if request.args.get("v") == found.version else REVALIDATE
    if request.if_none_match.contains(tag):
        response = Response(status=304)
    else:
        response = Response(_sprite_png(run, tag, indexes, scale), mimetype="image/png")
    response.set_etag(tag)
    response.headers["Cache-Control"] = caching
    return response


def _sprite_png(run, tag, indexes, scale):
    """Give the sprite's PNG bytes from the cache, or drawn from the dataset's test images."""
    png = state().sprites.get(tag)
    if png is None:
        try:
            data = services().datasets.load(run.dataset)
            images = [data.image("test", int(i)) for i in indexes]
        except (DatasetError, IndexError) as exc:
            raise Missing(409, f"The test images of run {run.id}'s dataset {run.dataset!r} cannot be read here: {exc}") from None
        thumbnails.check(len(images), *images[0].shape[:2], scale)   # the images' own size, whatever info said
        png = thumbnails.sprite_png(images, scale)
        state().sprites.put(tag, png)
    return png


@bp.get("/runs/<int:run_id>/confusion")
def confusion(run_id):
    """Give the confusion matrix (rows true, columns predicted), per-class scores and the accuracy."""
    run = _run(run_id)
    found = _stored(run)
    names, num_classes = _dataset(run)
    size = max(num_classes, int(found.true.max(initial=-1)) + 1, int(found.predicted.max(initial=-1)) + 1)
    matrix = preds.confusion(found.true, found.predicted, size)
    labels = [names[k] if k < len(names) else str(k) for k in range(size)]
    return jsonify({"labels": labels, "matrix": matrix.tolist(), "accuracy": preds.accuracy(matrix),
                    "classes": preds.class_scores(matrix, labels), "total": int(matrix.sum()), "epoch": found.epoch})


@bp.post("/runs/<int:run_id>/predict")
def predict(run_id):
    """Give the top classes the run's saved model predicts for an uploaded image (multipart `image`), or JSON text or series.

    Several `image` parts, or JSON {"instances": [...]}, to an image run are a batch: batch_predict.py answers those.
    """
    run = _run(run_id)
    from . import batch_predict   # here: it imports this module's helpers

    kind = sequence_views.kind_of(run)
    if kind == sequence_views.IMAGE and batch_predict.is_batch():
        return batch_predict.predict_batch(run)
    if request.is_json or kind != sequence_views.IMAGE:
        return _predict_json(run, kind)
    limit = user_image.MAX_BYTES
    if request.content_length and request.content_length > limit + 2**20:
        return error(400, f"image: the file is larger than {limit // 2**20} MB; send a smaller image.")
    file = request.files.get("image")
    if file is None:
        return error(400, "image: send an image file as the multipart form field `image` (PNG, JPEG, GIF, BMP, WebP), "
                          'several `image` parts, or JSON {"instances": [pixel arrays]}.')
    path = run_dir(run.id) / paths.MODEL
    if not path.exists():
        raise Missing(409, f"Run {run.id} has no saved model yet: it is saved after each finished epoch.")
    runnable(run)
    try:
        look = state().look(run.dataset)
    except DatasetError as exc:
        raise Missing(409, f"The dataset {run.dataset!r} of run {run.id} cannot be loaded here: {exc}") from None
    x, pixels = user_image.to_input(user_image.read_image(file.stream, limit), look)
    predicted, confidence, top, top_p = preds.top_classes(state().models.predict(path, x))
    names, _ = _dataset(run)
    scale = min(MAX_SCALE, max(1, math.ceil(96 / max(look.height, look.width))))
    seen = base64.b64encode(user_image.png_bytes(pixels, scale)).decode("ascii")
    return jsonify({"predicted": int(predicted[0]), "name": preds.class_name(names, predicted[0]),
                    "confidence": float(confidence[0]),
                    "top": [{"class": int(c), "name": preds.class_name(names, c), "p": float(p)} for c, p in zip(top[0], top_p[0])],
                    "input_image": f"data:image/png;base64,{seen}"})


def _predict_json(run, kind):
    """Answer predict-one for JSON {"text"} or {"series"}: the body bounded before it is parsed."""
    config = current_app.config
    field = "series" if kind == "series" else "text"
    if kind == sequence_views.IMAGE:
        return error(400, f"text: run {run.id}'s dataset {run.dataset!r} holds images; send an image file as the "
                          "multipart form field `image`.")
    if not request.is_json:
        return error(400, f"{field}: run {run.id}'s dataset {run.dataset!r} holds {kind} data; send JSON "
                          + ('{"series": [numbers]}.' if field == "series" else '{"text": "a sentence"}.'))
    # A character is at most 6 bytes of JSON (\uXXXX), a number about 25: refused before it is decoded.
    bound = 6 * config["KD_MAX_TEXT_CHARS"] + 32 * config["KD_MAX_SERIES_POINTS"] + 4096
    if request.content_length is None or request.content_length > bound:
        return error(400, f"{field}: the request body is larger than this server takes ({bound:,} bytes; "
                          "KD_MAX_TEXT_CHARS, KD_MAX_SERIES_POINTS).")
    path = run_dir(run.id) / paths.MODEL
    if not path.exists():
        raise Missing(409, f"Run {run.id} has no saved model yet: it is saved after each finished epoch.")
    runnable(run)
    body = request.get_json(silent=True)
    names, _ = _dataset(run)
    return jsonify(sequence_views.predict(run, path, body, state().inspector, names))


def thumb_scale(info):
    """Give the scale that makes a dataset's images about THUMB_PX a side (whole pixels, at least 1)."""
    side = max([d for d in (info.get("input_shape") or [])[:2] if d] or [1])   # a text's [null]: no thumbnails anyway
    return min(MAX_SCALE, max(1, math.ceil(THUMB_PX / side)))


def gallery_data(run_id):
    """Give the gallery page's data: the run, its dataset, the thumbnail scale, whether it is digit-like."""
    kd = services()
    with kd.store.session() as s:
        run = s.get(Run, run_id)
    if run is None:
        return None
    info = kd.datasets.info(run.dataset) or {"id": run.dataset, "name": run.dataset, "class_names": [],
                                             "input_shape": [1, 1, 1], "num_classes": 0}
    kind = info.get("kind") or "image"
    try:
        look = state().look(run.dataset).to_dict() if kind == "image" else None
    except DatasetError:
        look = None
    folder = run_dir(run.id)
    return {"run": {"id": run.id, "name": run.name, "status": run.status, "dataset": run.dataset,
                    "epochs_done": run.epochs_done, "epochs_planned": run.epochs_planned},
            "dataset": {**{k: info.get(k) for k in ("id", "name", "input_shape", "num_classes", "class_names",
                                                     "vocabulary_size")}, "kind": kind},
            "look": look, "thumb_scale": thumb_scale(info), "sprite": {"columns": thumbnails.COLUMNS,
                                                                       "max_pixels": thumbnails.MAX_PIXELS},
            "has_predictions": (folder / preds.FILE).exists(), "has_epoch_sample": (folder / preds.EPOCH_FILE).exists(),
            "has_model": (folder / paths.MODEL).exists(),
            "max_upload_mb": user_image.MAX_BYTES // 2**20,
            "max_text_chars": current_app.config["KD_MAX_TEXT_CHARS"]}
