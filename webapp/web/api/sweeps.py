"""Sweeps: create, list, read, stop, resume, and download trials.csv and sweep.py."""

from flask import Response, jsonify, url_for
from flask_login import current_user

from ...team import accounts
from ...sweeps import views
from ...sweeps.service import SweepError
from .. import services
from . import bp
from .errors import error, json_body

ARTIFACTS = ("trials.csv", "sweep.py")


@bp.errorhandler(SweepError)
def _sweep_error(exc):
    return error(exc.status, exc.message)


def _note(action, sweep_id, **detail):
    accounts.record(services().store, current_user.id, action, detail={"sweep": sweep_id, **detail})


@bp.post("/sweeps")
def create_sweep():
    """Check a sweep (base spec, space, objective...) and start it: 201 {"sweep"}, or 422 naming the field."""
    kd = services()
    sweep_id = kd.sweeps.create(json_body(), owner_id=current_user.id)
    _note("sweep.create", sweep_id)
    return jsonify({"sweep": kd.sweeps.get(sweep_id)}), 201


@bp.get("/sweeps")
def list_sweeps():
    """Give every sweep, newest first (without base specs)."""
    return jsonify({"sweeps": services().sweeps.list()})


@bp.get("/sweeps/<int:sweep_id>")
def get_sweep(sweep_id):
    """Give one sweep: status, space, objective, trials, best, importance."""
    return jsonify({"sweep": services().sweeps.get(sweep_id)})


@bp.post("/sweeps/<int:sweep_id>/stop")
def stop_sweep(sweep_id):
    """Stop a sweep: no new trial starts, running ones stop after their batch: 202."""
    services().sweeps.stop(sweep_id)
    _note("sweep.stop", sweep_id)
    return jsonify({"sweep": services().sweeps.get(sweep_id, detail=False)}), 202


@bp.post("/sweeps/<int:sweep_id>/resume")
def resume_sweep(sweep_id):
    """Plan N more trials of an ended sweep ({"trials": N}): 202."""
    body = json_body()
    trials = body.get("trials") if isinstance(body, dict) else None
    services().sweeps.resume(sweep_id, trials)
    _note("sweep.resume", sweep_id, trials=trials)
    return jsonify({"sweep": services().sweeps.get(sweep_id, detail=False)}), 202


@bp.get("/sweeps/<int:sweep_id>/artifacts/<name>")
def sweep_artifact(sweep_id, name):
    """Give trials.csv (one row per trial) or sweep.py (the same search with Optuna and Keras) as a download."""
    if name not in ARTIFACTS:
        return error(404, f"Unknown artifact '{name}'. A sweep has: {', '.join(ARTIFACTS)}.")
    row, trials = services().sweeps.trials(sweep_id)
    if name == "trials.csv":
        body, kind = views.trials_csv(row, trials), "text/csv"
    else:
        body, kind = services().sweeps.script(sweep_id), "text/x-python"
    return Response(body, mimetype=kind, headers={"Content-Disposition": f"attachment; filename={name}"})


@bp.post("/sweeps/<int:sweep_id>/shares")
def create_sweep_share(sweep_id):
    """Make a read-only link to this sweep and its trials' runs: 201 {"share": {"token", "url"}}."""
    kd = services()
    kd.sweeps.get(sweep_id, detail=False)   # 404 for none
    token = accounts.new_share(kd.store, None, current_user.id, sweep_id=sweep_id)
    _note("sweep.share", sweep_id)
    return jsonify({"share": {"token": token, "url": url_for("pages.sweep", sweep_id=sweep_id, share=token,
                                                                 _external=True)}}), 201


@bp.delete("/sweeps/<int:sweep_id>/shares/<token>")
def delete_sweep_share(sweep_id, token):
    """Revoke a sweep's share link at once, closing the live streams it opened: 204."""
    if not accounts.revoke_share(services().store, None, token, sweep_id=sweep_id):
        return error(404, "There is no live share link like that for this sweep.")
    from ..events import drop_share

    drop_share(token)
    _note("sweep.unshare", sweep_id)
    return "", 204
