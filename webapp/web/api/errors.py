"""JSON errors for the API: a user's mistake is a 4xx with a message, never an HTML page or a 500."""

import logging

from flask import jsonify, request
from werkzeug.exceptions import HTTPException

from ...modelspec.validate import SpecError
from . import bp

log = logging.getLogger(__name__)


def error(status, message, **extra):
    """Give a `{"error": {"message": ...}}` response with this status."""
    return jsonify({"error": {"message": message, **extra}}), status


def spec_errors(exc):
    """Give the contract's 422 answer for a SpecError."""
    return jsonify({"ok": False, "errors": [e.to_dict() for e in exc.errors]}), 422


def json_body():
    """Give the request's JSON object, or raise BadRequest with a message that says what is wrong."""
    from werkzeug.exceptions import BadRequest

    data = request.get_json(silent=True)
    if data is None:
        raise BadRequest("The request body must be JSON (Content-Type: application/json).")
    return data


@bp.app_errorhandler(SpecError)
def _spec_error(exc):
    return spec_errors(exc)


@bp.app_errorhandler(HTTPException)
def _http_error(exc):
    if not request.path.startswith("/api/"):
        return exc
    messages = {413: "The upload is larger than this server accepts (KD_MAX_UPLOAD_MB)."}
    return error(exc.code, messages.get(exc.code, exc.description))


@bp.app_errorhandler(Exception)
def _unexpected(exc):
    log.exception("unexpected error on %s %s", request.method, request.path)
    if request.path.startswith("/api/"):
        return error(500, "Something went wrong on the server; the error was logged.")
    return "Something went wrong on the server; the error was logged.", 500
