"""Runs: create, list, read, stop, continue, and download artifacts."""

from flask import jsonify, send_from_directory
from werkzeug.exceptions import NotFound

from ...runs import views
from ...runs.service import ARTIFACTS, RunError
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


@bp.post("/runs")
def create_run():
    """Store a run spec as a queued run and start it when a slot is free: 201 {"run"}."""
    run_id = services().runs.create(json_body())
    return jsonify({"run": _run_or_404(run_id)}), 201


@bp.get("/runs")
def list_runs():
    """Give every run, newest first."""
    kd = services()
    return jsonify({"runs": views.list_runs(kd.store, kd.data_dir)})


@bp.get("/runs/<int:run_id>")
def get_run(run_id):
    """Give one run: status, spec, history, summary, artifacts."""
    return jsonify({"run": _run_or_404(run_id)})


@bp.post("/runs/<int:run_id>/stop")
def stop_run(run_id):
    """Stop a run after its current batch, keeping what it learned: 202."""
    services().runs.stop(run_id)
    return jsonify({"run": _run_or_404(run_id)}), 202


@bp.post("/runs/<int:run_id>/continue")
def continue_run(run_id):
    """Train N more epochs from the saved model and optimizer state: 202."""
    body = json_body()
    services().runs.continue_(run_id, body.get("epochs") if isinstance(body, dict) else None)
    return jsonify({"run": _run_or_404(run_id)}), 202


@bp.get("/runs/<int:run_id>/artifacts/<name>")
def artifact(run_id, name):
    """Give one artifact of a run as a download."""
    _run_or_404(run_id)
    if name not in ARTIFACTS:
        return error(404, f"Unknown artifact '{name}'. A run has: {', '.join(ARTIFACTS)}.")
    try:
        return send_from_directory(services().data_dir / "runs" / str(run_id), name, as_attachment=True)
    except NotFound:
        return error(404, f"Run {run_id} has no {name} (yet).")
