"""Exports of a finished run's model (SavedModel, LiteRT, ONNX): create, list, download."""

from flask import jsonify, send_file

from ...deploy import formats
from ...deploy.formats import ExportError
from ...db.store import Run
from .. import services
from . import bp
from .errors import error, json_body


@bp.errorhandler(ExportError)
def _export_error(exc):
    """Answer an ExportError: a 422 in the contract's field-error form, any other status with its message."""
    if exc.status == 422:
        return jsonify({"ok": False, "errors": [{"layer": exc.layer, "field": exc.field, "message": exc.message}]}), 422
    return error(exc.status, exc.message, field=exc.field)


def _run(run_id):
    """Give the run's row (detached), or raise ExportError(404)."""
    with services().store.session() as s:
        run = s.get(Run, run_id)
    if run is None:
        raise ExportError(404, "run", f"There is no run {run_id}.")
    return run


@bp.post("/runs/<int:run_id>/exports")
def create_export(run_id):
    """Start building an export of the run's model: 202 with it (building), or 200 with the one already made."""
    run = _run(run_id)
    body = json_body()
    formats.check(body)   # a malformed request is told so first
    formats.check_kind((services().datasets.info(run.dataset) or {}).get("kind"))
    export, created = services().exports.create(run, body)
    return jsonify({"export": export}), 202 if created or export["state"] == "building" else 200


@bp.get("/runs/<int:run_id>/exports")
def list_exports(run_id):
    """Give the run's exports, oldest first, with their figures."""
    _run(run_id)
    return jsonify({"exports": services().exports.list(run_id)})


@bp.get("/runs/<int:run_id>/exports/<int:export_id>/download")
def download_export(run_id, export_id):
    """Give a ready export as a .zip: the model file (or SavedModel folder), labels.txt and README.txt."""
    _run(run_id)
    path, name = services().exports.download(run_id, export_id)
    return send_file(path, mimetype="application/zip", as_attachment=True, download_name=name)
