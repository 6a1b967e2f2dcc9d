"""The JSON API under /api: one module per part of the contract, all on one blueprint."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api")

from . import batch_predict, datasets, errors, exports, inside, models, predictions, runs, sweeps, transfer, users, weights  # noqa: E402,F401  (they register their routes on bp)
