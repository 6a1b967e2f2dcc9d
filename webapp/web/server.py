"""The production server's settings for gunicorn (`make run`), and what a starting server prints.

`gunicorn -c python:webapp.web.server wsgi:app` serves as docs/deploy.md says: one process (a
Socket.IO session lives in one), gunicorn's threads (`gthread`; the web process runs TensorFlow,
which green threads would stall), 1000 of them, since each open websocket keeps one. Under the
embedded executor the worker spawns its warm spare before it builds the app and begins serving
at once, as `python wsgi.py` does, so the first run's first batch is as quick under either.
gunicorn's master process never imports TensorFlow: it forks its worker, and nothing forks after.
"""

import multiprocessing
import os
import sys

from .. import config as _config

_settings = _config.load()

bind = f"{_settings['KD_HOST']}:{_settings['KD_PORT']}"
workers = 1
worker_class = "gthread"
threads = 1000
# Each answer closes its connection, as gunicorn's gthread did with `-w 1 --threads 1000` before
# (worker_connections, 1000, left no room to keep one alive): a client reusing a connection that the
# server's keep-alive timer is closing gets a reset, which scripts do not retry. A websocket is open anyway.
keepalive = 0
# A websocket is a long request: gthread's timeout is the worker's heartbeat, not a request's.
timeout = 120
graceful_timeout = 10
accesslog = None
# gunicorn >= 25 opens a control socket at one path per user ($HOME/.gunicorn/gunicorn.ctl): two
# instances on one machine would take it from each other, and its commands (more workers) would
# split the Socket.IO sessions that live in this one process. Nothing here uses it.
control_socket_disable = True


def post_fork(server, worker):
    """In the worker, before it imports the app: spawn the first warm spare (its TensorFlow import is the long part)."""
    if _warm_spare(_settings):
        from ..runs import local

        local.prestart()


def post_worker_init(worker):
    """Once the worker has built the app: begin serving at once and print where to go."""
    app = worker.wsgi
    app.extensions["kd"].runs.begin(app.config["KD_WARM_SPARE"])
    announce(app, _settings["KD_HOST"], _settings["KD_PORT"])


def worker_exit(server, worker):
    """As the worker leaves: if TensorFlow is still being imported on its thread, end the children as
    an exit would and leave at once; the interpreter's teardown would crash in that import (SIGSEGV)."""
    from ..modelspec import build

    if build.importing_in_background():
        for child in multiprocessing.active_children():   # what multiprocessing's exit does for daemons
            child.terminate()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def _warm_spare(settings):
    """Say whether this server keeps a warm spare trainer (the embedded executor, KD_WARM_SPARE on)."""
    return settings["KD_EXECUTOR"] == "local" and bool(settings["KD_WARM_SPARE"])


def announce(app, host, port):
    """Print the dashboard's address and, while there is no account yet, the one-time setup link."""
    from .auth import setup_link

    print(f"Keras dashboard: http://{host}:{port}/", flush=True)
    link = setup_link(app)
    if link:
        print(f"No account yet: create the first admin at http://{host}:{port}{link}", flush=True)
