"""Datasets: `GET /api/datasets`, `POST /api/datasets` (upload an .npz), one dataset, and its images as PNG."""

import io
from pathlib import PurePath

import numpy as np
from flask import current_app, jsonify, request, send_file, url_for
from flask_login import current_user

from ...datasets import SPLITS, DatasetError, UploadError
from .. import services
from . import bp
from .errors import error

MAX_SCALE = 32
MAX_SIDE = 2048   # an upscaled image never gets larger than this many pixels a side


@bp.get("/datasets")
def list_datasets():
    """Give every dataset's description (built-in, keras.datasets, uploads)."""
    return jsonify({"datasets": services().datasets.list()})


@bp.post("/datasets")
def upload():
    """Store an uploaded .npz (multipart `file`, `name`) as a dataset: 201 with it, or 400 saying what is wrong."""
    file = request.files.get("file")
    if file is None or not file.filename:
        return error(400, "file: choose an .npz file (multipart form field `file`) with x_train, y_train, "
                          "x_test, y_test and optionally class_names.")
    # A script may leave the name out; the file's name (without .npz) stands in for it.
    name = request.form.get("name") or PurePath(file.filename).stem
    max_bytes = 4 * current_app.config["KD_MAX_UPLOAD_MB"] * 2**20
    try:
        dataset = services().datasets.add(name, file.stream, max_bytes, owner_id=current_user.id)
    except UploadError as exc:
        return error(400, str(exc))
    return jsonify({"dataset": dataset}), 201, {"Location": url_for("api.dataset", ds_id=dataset["id"])}


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
    return send_file(io.BytesIO(_png(pixels, scale)), mimetype="image/png", max_age=86400)


def _png(pixels, scale):
    """Give the PNG bytes of a uint8 (H, W, C) image, enlarged `scale` times with NEAREST (crisp pixels)."""
    from PIL import Image

    # Pillow picks the mode from the shape: (H, W) grayscale "L", (H, W, 3) "RGB", (H, W, 4) "RGBA".
    img = Image.fromarray(np.ascontiguousarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels))
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST)
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()
