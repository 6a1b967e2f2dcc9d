"""Pinned browser libraries served from installed Python packages (no CDN): Plotly from `plotly`."""

from importlib.util import find_spec
from pathlib import Path

from flask import Blueprint, send_from_directory

bp = Blueprint("vendor", __name__, url_prefix="/vendor")

# A year: the file only changes with the installed plotly package, which changes with a deploy.
MAX_AGE = 365 * 24 * 3600


def plotly_dir():
    """Give the directory that holds the plotly.min.js shipped inside the installed `plotly` package."""
    return Path(find_spec("plotly").origin).parent / "package_data"


@bp.get("/plotly.min.js")
def plotly_js():
    """Give plotly.min.js (it defines window.Plotly) with a long cache lifetime."""
    return send_from_directory(plotly_dir(), "plotly.min.js", max_age=MAX_AGE, mimetype="text/javascript")
