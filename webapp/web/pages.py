"""HTML pages. Each page gets its data as JSON in `#page-data` and one ES module of its own."""

from flask import Blueprint, abort, jsonify, render_template

from ..runs import views
from ..spec.catalog import catalog_json
from . import services

bp = Blueprint("pages", __name__)


@bp.get("/healthz")
def healthz():
    """Give 200 {"status": "ok"} once the app can answer."""
    return jsonify({"status": "ok"})


@bp.get("/")
def builder():
    """Give the model builder page."""
    data = {"datasets": services().datasets.list(), "catalog": catalog_json()}
    return render_template("builder.html", page="builder", data=data)


@bp.get("/datasets")
def datasets():
    """Give the list of datasets."""
    return render_template("datasets.html", page="datasets", data={"datasets": services().datasets.list()})


@bp.get("/datasets/<ds_id>")
def dataset(ds_id):
    """Give one dataset's page: sizes, class counts and sample images per class."""
    info = services().datasets.details(ds_id)
    if info is None:
        abort(404)
    return render_template("dataset.html", page="dataset", data={"dataset": info}, title=info["name"])


@bp.get("/runs")
def runs():
    """Give the list of runs."""
    kd = services()
    return render_template("runs.html", page="runs", data={"runs": views.list_runs(kd.store, kd.data_dir)}, title="Runs")


@bp.get("/runs/<int:run_id>")
def run(run_id):
    """Give a run's page: live progress, charts, summary, stop and continue, artifacts."""
    kd = services()
    info = views.get_run(kd.store, kd.data_dir, run_id)
    if info is None:
        abort(404)
    return render_template("run.html", page="run", data={"run": info}, title=info["name"])


@bp.get("/runs/<int:run_id>/gallery")
def gallery(run_id):
    """Give a run's gallery: test images with their predictions, the confusion matrix, try your own."""
    from .api.predictions import gallery_data

    data = gallery_data(run_id)
    if data is None:
        abort(404)
    return render_template("gallery.html", page="gallery", data=data, title=f"{data['run']['name']} · gallery")
