"""Runs: create, list, read, their training dynamics, stop, continue, rename, delete, share, and download artifacts."""

from flask import jsonify, request, send_from_directory, url_for
from flask_login import current_user
from werkzeug.exceptions import NotFound

from ...team import accounts
from ...runs import paths, views
from ...runs.service import RunError
from .. import services
from . import bp
from .errors import error, json_body


@bp.errorhandler(RunError)
def _run_error(exc):
    return error(exc.status, exc.message)


def _run_or_404(run_id):
    kd = services()
    run = views.get_run(kd.store, kd.data_dir, run_id)
    if run is None:
        raise RunError(404, f"There is no run {run_id}.")
    return run


def _note(action, run_id, **detail):
    accounts.record(services().store, current_user.id, action, run_id=run_id, detail=detail)


def _field(name):
    """Give one field of the JSON object body (None when the body is not an object)."""
    body = json_body()
    return body.get(name) if isinstance(body, dict) else None


def _changed(action, run_id, status=200, **detail):
    """Record what the caller did to a run and answer with the run as it is now."""
    _note(action, run_id, **detail)
    return jsonify({"run": _run_or_404(run_id)}), status


@bp.post("/runs")
def create_run():
    """Store a run spec as a queued run owned by the caller; start it when a slot is free: 201."""
    return _changed("run.create", services().runs.create(json_body(), owner_id=current_user.id), 201)


@bp.get("/runs")
def list_runs():
    """Give the runs, newest first: ?owner=&status=&dataset=&q= filter, ?sort=KEY&order= sort."""
    kd, args = services(), request.args
    return jsonify({"runs": views.list_runs(kd.store, kd.data_dir, owner=args.get("owner"),
                                            status=args.get("status"), dataset=args.get("dataset"),
                                            q=args.get("q"), sort=args.get("sort"), order=args.get("order", "desc"))})


@bp.get("/runs/<int:run_id>")
def get_run(run_id):
    """Give one run: status, spec, history, summary, artifacts."""
    return jsonify({"run": _run_or_404(run_id)})


@bp.get("/runs/<int:run_id>/dynamics")
def dynamics(run_id):
    """Give the training dynamics: recorded steps, each weight's norms lined up with them, the warnings."""
    kd = services()
    answer = views.dynamics_json(kd.store, kd.data_dir, run_id)
    if answer is None:
        raise RunError(404, f"There is no run {run_id}.")
    return jsonify(answer)


@bp.post("/runs/<int:run_id>/stop")
def stop_run(run_id):
    """Stop a run after its current batch, keeping what it learned: 202."""
    services().runs.stop(run_id)
    return _changed("run.stop", run_id, 202)


@bp.post("/runs/<int:run_id>/continue")
def continue_run(run_id):
    """Train N more epochs from the saved model and optimizer state: 202. With "unfreeze" and
    "learning_rate": fine-tune its backbones' top layers at that rate."""
    epochs, unfreeze, rate = _field("epochs"), _field("unfreeze"), _field("learning_rate")
    services().runs.continue_(run_id, epochs, unfreeze, rate)
    extra = {"unfreeze": unfreeze, "learning_rate": rate} if unfreeze is not None else {}
    return _changed("run.continue", run_id, 202, epochs=epochs, **extra)


@bp.get("/runs/<int:run_id>/artifacts/<name>")
def artifact(run_id, name):
    """Give one artifact of a run as a download."""
    _run_or_404(run_id)
    if name not in paths.ARTIFACTS:
        return error(404, f"Unknown artifact '{name}'. A run has: {', '.join(paths.ARTIFACTS)}.")
    try:
        return send_from_directory(paths.run_dir(services().data_dir, run_id), name, as_attachment=True)
    except NotFound:
        return error(404, f"Run {run_id} has no {name} (yet).")


@bp.patch("/runs/<int:run_id>")
def rename_run(run_id):
    """Rename a run: {"name"} -> {"run"}."""
    name = _field("name")
    services().runs.rename(run_id, name)
    return _changed("run.rename", run_id, name=name)


@bp.delete("/runs/<int:run_id>")
def delete_run(run_id):
    """Delete an ended run with its artifacts: 204."""
    name = _run_or_404(run_id)["name"]
    services().runs.delete(run_id)
    _note("run.delete", None, deleted_run=run_id, name=name)
    return "", 204


@bp.post("/runs/<int:run_id>/shares")
def create_share(run_id):
    """Make a read-only link to this run (page, live stream, gallery): 201 {"share": {"token", "url"}}."""
    _run_or_404(run_id)
    token = accounts.new_share(services().store, run_id, current_user.id)
    _note("run.share", run_id)
    return jsonify({"share": {"token": token, "url": url_for("pages.run", run_id=run_id, share=token, _external=True)}}), 201


@bp.delete("/runs/<int:run_id>/shares/<token>")
def delete_share(run_id, token):
    """Revoke a share link at once, closing the live streams it opened: 204."""
    if not accounts.revoke_share(services().store, run_id, token):
        return error(404, "There is no live share link like that for this run.")
    from ..events import drop_share

    drop_share(token)
    _note("run.unshare", run_id)
    return "", 204
