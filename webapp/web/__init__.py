"""The only Flask-aware layer: pages, the JSON API, Socket.IO events, accounts."""

from flask import current_app


def services():
    """Give the app's Services (store, datasets, runs)."""
    return current_app.extensions["kd"]
