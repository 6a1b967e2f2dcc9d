"""The only Flask-aware room: pages, the JSON API, Socket.IO events, sign-in, access, the server's settings.

It may import every room below it (`team/`, `runs/`, `predict/`, `datasets/`, `modelspec/`, `db/`) and
never Keras: it asks those rooms, and turns their answers and errors into HTTP and Socket.IO.
"""

from flask import current_app


def services():
    """Give the app's Services (store, datasets, runs)."""
    return current_app.extensions["kd"]
