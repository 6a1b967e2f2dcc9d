"""Datasets: the list, uploads (.npz, or folder archives built elsewhere), one dataset, its images and statistics."""

import base64
import io
from pathlib import PurePath

import numpy as np
from flask import current_app, jsonify, request, send_file, url_for
from flask_login import current_user

from ...team import accounts
from ...datasets import SPLITS, DatasetError, InUse, UploadError, archive, folders, pixels
from ...modelspec.numbers import whole
from ...modelspec.validate import SpecError
from ...predict.user_image import png_bytes
from .. import services
from . import bp
from .errors import error

ACCEPTED = ("an .npz with x_train, y_train, x_test, y_test (201), a .zip / .tar.gz of class folders "
            "root/<class>/<image or .txt file> (202, built in the background), or a .csv / .tsv of series, "
            "the label first (202)")
MAX_SCALE = 32
MAX_PAGE = 200
MAX_SIDE = 2048   # an upscaled image never gets larger than this many pixels a side


@bp.get("/datasets")
def list_datasets():
    """Give every dataset's description (built-in, keras.datasets, uploads)."""
    return jsonify({"datasets": services().datasets.list()})


@bp.post("/datasets")
def upload():
    """Receive a dataset (multipart `file`, `name`, options): an .npz 201, a folder archive 202 (built elsewhere)."""
    file = request.files.get("file")
    if file is None or not file.filename:
        return error(400, f"file: choose a file (multipart form field `file`): {ACCEPTED}.")
    kind = archive.kind_of(file.filename)
    if kind is None:
        return error(400, f"file: {PurePath(file.filename).name!r} is not one of {ACCEPTED}.")
    # A script may leave the name out; the file's name (without its extension) stands in for it.
    name = request.form.get("name") or PurePath(file.filename).name.split(".")[0]
    try:
        options = folders.options(request.form) if kind != "npz" else None
        dataset, finished = services().builds.receive(name, kind, PurePath(file.filename).name, file.save,
                                                       current_user.id, options)
    except UploadError as exc:
        return error(400, str(exc))
    return jsonify({"dataset": dataset}), 201 if finished else 202, {"Location": url_for("api.dataset",
                                                                                        ds_id=dataset["id"])}


@bp.get("/datasets/<ds_id>")
def dataset(ds_id):
    """Give one dataset's description with its class counts and sample indexes per class."""
    info = services().datasets.details(ds_id)
    if info is None:
        return error(404, f"There is no dataset {ds_id!r}.")
    return jsonify({"dataset": info})


@bp.delete("/datasets/<ds_id>")
def delete_dataset(ds_id):
    """Delete an uploaded dataset with its files: 204; 409 while it is being built or runs use it."""
    try:
        name = services().datasets.delete(ds_id)
    except InUse as exc:
        return error(409, str(exc))
    except DatasetError as exc:
        return error(404, str(exc))
    accounts.record(services().store, current_user.id, "dataset.delete", run_id=None,
                    detail={"deleted_dataset": ds_id, "name": name})
    return "", 204


@bp.get("/datasets/<ds_id>/images/<split>/<int:index>.png")
def image(ds_id, split, index):
    """Give one image of a split as PNG (grayscale, RGB or RGBA), `?scale=N` enlarged with nearest neighbours."""
    if split not in SPLITS:
        return error(404, f"split must be train or test; got {split!r}.")
    scale = whole(request.args.get("scale", "1"), 1, MAX_SCALE)
    if scale is None:
        return error(400, f"scale must be a whole number from 1 to {MAX_SCALE}; got {request.args['scale'][:40]!r}.")
    registry = services().datasets
    if registry.info(ds_id) is None:
        return error(404, f"There is no dataset {ds_id!r}.")
    try:
        pixels = _pixels_of(ds_id, registry.load(ds_id)).image(split, index)
    except (LookupError, DatasetError, IndexError) as exc:   # unavailable here, not images, or past the end
        return error(404, str(exc))
    if max(pixels.shape[:2]) * scale > MAX_SIDE:
        return error(400, f"scale {scale} would make this {pixels.shape[1]}×{pixels.shape[0]} image larger than "
                          f"{MAX_SIDE} pixels a side.")
    return send_file(io.BytesIO(png_bytes(pixels, scale)), mimetype="image/png", max_age=86400)


@bp.get("/datasets/<ds_id>/samples")
def samples(ds_id):
    """Give a page of one class's image indexes in a split: ?split=train&class=K&offset=0&limit=24."""
    split = request.args.get("split", "train")
    klass, offset, limit = (whole(request.args.get(k, default), 0, 10**9)
                            for k, default in (("class", "0"), ("offset", "0"), ("limit", "24")))
    if split not in SPLITS or None in (klass, offset, limit):
        return error(400, "split must be train or test; class, offset and limit whole numbers from 0 to 1000000000.")
    try:
        data = _available(ds_id)
    except LookupError as exc:
        return error(404, str(exc))
    y = data.y_train if split == "train" else data.y_test
    found = np.flatnonzero(y == klass)
    return jsonify({"total": len(found), "indexes": found[offset:offset + min(limit, MAX_PAGE)].tolist()})


@bp.get("/datasets/<ds_id>/stats")
def pixel_stats(ds_id):
    """Give the pixel statistics: a value histogram per channel, and the URL of each class's mean image."""
    try:
        _images_only(ds_id)
        out = services().datasets.pixel_stats(ds_id)
    except (LookupError, DatasetError) as exc:
        return error(404, str(exc))
    urls = [url_for("api.mean_image", ds_id=ds_id, k=k) for k in range(len(out["means"]))]
    return jsonify({"histogram": pixels.histogram(out), "mean_images": urls})


@bp.get("/datasets/<ds_id>/means/<int:k>.png")
def mean_image(ds_id, k):
    """Give the mean training image of class `k` as PNG (`?scale=N` as for images)."""
    try:
        _images_only(ds_id)
        means = services().datasets.pixel_stats(ds_id)["means"]
    except (LookupError, DatasetError) as exc:
        return error(404, str(exc))
    if not 0 <= k < len(means):
        return error(404, f"class {k} is outside 0..{len(means) - 1}.")
    scale = whole(request.args.get("scale", "1"), 1, MAX_SCALE) or 1   # a mean image is a picture: any bad scale is 1
    return send_file(io.BytesIO(png_bytes(means[k], scale)), mimetype="image/png", max_age=60)


@bp.get("/datasets/<ds_id>/download")
def download(ds_id):
    """Give an uploaded dataset's .npz (what the exported train.py loads)."""
    registry = services().datasets
    info = registry.info(ds_id)
    if info is None or info["source"] != "upload" or not info["available"]:
        return error(404, f"There is no uploaded dataset {ds_id!r} ready to download.")
    return send_file(registry.upload_dir / f"{ds_id}.npz", as_attachment=True, download_name=f"{ds_id}.npz")


@bp.post("/datasets/<ds_id>/augment")
def augment(ds_id):
    """Give fresh samples of one image through augmentation layers: {"layers", "split", "index", "count"}."""
    body = request.get_json(silent=True) or {}
    split, index, count = body.get("split", "train"), body.get("index", 0), body.get("count", 8)
    if split not in SPLITS or not all(isinstance(v, int) and v >= 0 for v in (index, count)):
        return error(400, "split must be train or test; index and count whole numbers.")
    try:
        data = _images_only(ds_id)
        from ...datasets import augment as aug   # loads Keras: only when a preview is asked for

        images = aug.samples(data, aug.check(body.get("layers")), split, index, count,
                             current_app.config["KD_MAX_PREVIEW_PIXELS"])
    except LookupError as exc:
        return error(404, str(exc))
    except SpecError as exc:
        return jsonify({"ok": False, "errors": [e.to_dict() for e in exc.errors]}), 422
    except IndexError as exc:
        return error(404, str(exc))
    scale = max(1, 64 // max(images[0].shape[:2]))
    return jsonify({"images": ["data:image/png;base64," + base64.b64encode(png_bytes(img, scale)).decode("ascii")
                               for img in images]})


def _images_only(ds_id):
    """Give an image dataset's arrays; LookupError (404) otherwise: texts and series have no pixels to show."""
    return _pixels_of(ds_id, _available(ds_id))


def _pixels_of(ds_id, data):
    """Give `data` if it holds images, else LookupError (404) saying what it holds."""
    if data.kind != "image":
        what = {"series": "series", "sequence": "sequences"}.get(data.kind, data.kind + "s")
        raise LookupError(f"The dataset {ds_id!r} holds {what}, not images: it has no pixels to show.")
    return data


def _available(ds_id):
    """Give a dataset's arrays; LookupError (404) when there is no such dataset or it is not available."""
    registry = services().datasets
    info = registry.info(ds_id)
    if info is None or not info["available"]:
        raise LookupError(f"There is no available dataset {ds_id!r}.")
    try:
        return registry.load(ds_id)
    except DatasetError as exc:
        raise LookupError(str(exc)) from None
