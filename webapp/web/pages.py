"""HTML pages. Each page gets its data as JSON in `#page-data` and one ES module of its own."""

from flask import Blueprint, abort, jsonify, render_template

from . import services

bp = Blueprint("pages", __name__)


@bp.get("/healthz")
def healthz():
    """Give 200 {"status": "ok"} once the app can answer."""
    return jsonify({"status": "ok"})


@bp.get("/")
def builder():
    """Give the model builder page."""
    return render_template("builder.html", page="builder", data={"datasets": services().datasets.list()})


@bp.get("/datasets")
def datasets():
    """Give the list of datasets."""
    return render_template("datasets.html", page="datasets", data={"datasets": services().datasets.list()})


@bp.get("/datasets/<ds_id>")
def dataset(ds_id):
    """Give one dataset's page: sizes, class counts and sample images per class."""
    info = services().datasets.info(ds_id)
    if info is None:
        abort(404)
    return render_template("dataset.html", page="dataset", data={"dataset": info}, title=info["name"])
