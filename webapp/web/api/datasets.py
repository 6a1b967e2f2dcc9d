"""Datasets: the list, uploads (.npz, or folder archives built elsewhere), one dataset, its images and statistics."""

import io
from pathlib import PurePath

from flask import jsonify, request, send_file, url_for
from flask_login import current_user

from ...datasets import SPLITS, DatasetError, UploadError, archive, folders
from ...user_image import png_bytes
from .. import services
from . import bp
from .errors import error

ACCEPTED = ("an .npz with x_train, y_train, x_test, y_test (201), or a .zip / .tar.gz of class folders "
            "root/<class>/<image> (202, built in the background)")
MAX_SCALE = 32
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
        return error(400, f"file: {PurePath(file.filename).name!r} is not one of {ACCEPTED}. Text and tabular data "
                          f"(CSV, JSON, Parquet) are not supported: only images.")
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


@bp.get("/datasets/<ds_id>/images/<split>/<int:index>.png")
def image(ds_id, split, index):
    """Give one image of a split as PNG (grayscale, RGB or RGBA), `?scale=N` enlarged with nearest neighbours."""
    if split not in SPLITS:
        return error(404, f"split must be train or test; got {split!r}.")
    scale = request.args.get("scale", "1")
    if not scale.isdigit() or not 1 <= int(scale) <= MAX_SCALE:
        return error(400, f"scale must be a whole number from 1 to {MAX_SCALE}; got {scale!r}.")
    registry, scale = services().datasets, int(scale)
    if registry.info(ds_id) is None:
        return error(404, f"There is no dataset {ds_id!r}.")
    try:
        pixels = registry.load(ds_id).image(split, index)
    except (DatasetError, IndexError) as exc:   # unavailable here, or past the end of the split
        return error(404, str(exc))
    if max(pixels.shape[:2]) * scale > MAX_SIDE:
        return error(400, f"scale {scale} would make this {pixels.shape[1]}×{pixels.shape[0]} image larger than "
                          f"{MAX_SIDE} pixels a side.")
    return send_file(io.BytesIO(png_bytes(pixels, scale)), mimetype="image/png", max_age=86400)
