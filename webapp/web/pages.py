"""HTML pages. Each page gets its data as JSON in `#page-data` and one ES module of its own."""

from flask import Blueprint, abort, current_app, g, jsonify, render_template, request
from flask_login import current_user

from ..team import accounts
from ..runs import views
from ..modelspec import pretrained
from ..modelspec.catalog import catalog_json
from ..modelspec.numbers import whole
from ..sweeps.service import SweepError
from . import services

bp = Blueprint("pages", __name__)
COMPARED = 10   # runs the compare page shows at most (the first ones named)


def render_page(template, data, **context):
    """Render a page whose data also says who is looking: {"me": {"id", "name", "role"} or null}."""
    me = current_user.to_dict() if current_user.is_authenticated else None
    return render_template(template, data={**data, "me": me}, **context)


@bp.get("/healthz")
def healthz():
    """Give 200 {"status": "ok"} once the app can answer."""
    return jsonify({"status": "ok"})


@bp.get("/")
def builder():
    """Give the model builder page."""
    data = {"datasets": services().datasets.list(), "catalog": catalog_json()}
    return render_page("builder.html", page="builder", data=data)


@bp.get("/datasets")
def datasets():
    """Give the list of datasets."""
    return render_page("datasets.html", page="datasets", data={"datasets": services().datasets.list()})


@bp.get("/datasets/<ds_id>")
def dataset(ds_id):
    """Give one dataset's page: sizes, class counts and sample images per class."""
    kd = services()
    info = kd.datasets.details(ds_id)
    if info is None:
        abort(404)
    runs = [{"id": r["id"], "name": r["name"], "status": r["status"]}
            for r in views.list_runs(kd.store, kd.data_dir, dataset=ds_id)]
    owner = accounts.get_user(kd.store, info["owner_id"]) if info.get("owner_id") else None
    uploader = owner.name if owner else None
    data = {"dataset": info, "runs": runs, "uploader": uploader,
            "preview_values": current_app.config["KD_MAX_PREVIEW_PIXELS"]}   # how many samples the preview asks for
    return render_page("dataset.html", page="dataset", data=data, title=info["name"])


@bp.get("/runs")
def runs():
    """Give the list of runs."""
    kd = services()
    return render_page("runs.html", page="runs", data={"runs": views.list_runs(kd.store, kd.data_dir)}, title="Runs")


@bp.get("/sweeps/<int:sweep_id>")
def sweep(sweep_id):
    """Give a sweep's page: trials arriving live, parallel coordinates, importance, the best trial."""
    try:
        info = services().sweeps.get(sweep_id)
    except SweepError:
        abort(404)
    return render_page("sweep.html", page="sweep", data={"sweep": info, **_share()}, title=info["name"],
                       sweep_id=sweep_id)


@bp.get("/runs/<int:run_id>")
def run(run_id):
    """Give a run's page: live progress, charts, summary, stop and continue, artifacts."""
    kd = services()
    info = views.get_run(kd.store, kd.data_dir, run_id)
    if info is None:
        abort(404)
    return render_page("run.html", page="run", data={"run": info, "backbones": list(pretrained.BACKBONES), **_share()},
                       title=info["name"])


@bp.get("/runs/<int:run_id>/gallery")
def gallery(run_id):
    """Give a run's gallery: test images with their predictions, the confusion matrix, try your own."""
    from .api.predictions import gallery_data

    data = gallery_data(run_id)
    if data is None:
        abort(404)
    data.update(_share())
    return render_page("gallery.html", page="gallery", data=data, title=f"{data['run']['name']} · gallery")


@bp.get("/runs/<int:run_id>/inside/<image>")
def inside(run_id, image):
    """Give the inside view of one image: each layer's output, why this class, the first kernels."""
    from .api.predictions import gallery_data

    data = gallery_data(run_id)
    if data is None:
        abort(404)
    data.update(_share(), image=image)
    return render_page("inside.html", page="inside", data=data, title=f"{data['run']['name']} · inside image {image}")


@bp.get("/compare")
def compare():
    """Give the compare page: the chosen runs' curves overlaid and how their specs differ."""
    kd = services()
    ids = [whole(part) for part in request.args.get("runs", "").split(",") if part.strip()][:COMPARED]
    if None in ids:
        abort(400, f"runs must be run ids (whole numbers) separated by commas; got {request.args['runs'][:40]!r}.")
    runs = [r for r in (views.get_run(kd.store, kd.data_dir, i) for i in ids) if r]
    return render_page("compare.html", page="compare", title="Compare runs",
                       data={"runs": runs, "all_runs": views.list_runs(kd.store, kd.data_dir)})


@bp.get("/admin")
def admin():
    """Give the admin page: accounts and recent actions (admins only, see access.py)."""
    return render_page("admin.html", page="admin", title="Admin", data={})


def _share():
    """Give {"share": TOKEN} when a share link (not a signed-in user) opened the page."""
    return {"share": request.args.get("share")} if g.get("share_run") else {}
