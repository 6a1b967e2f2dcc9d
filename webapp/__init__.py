"""The Keras dashboard: `create_app(config=None)` builds the Flask app and its services."""

import threading
from dataclasses import dataclass
from pathlib import Path

from flask import Flask

from . import config as settings
from .datasets import Registry
from .extensions import socketio
from .runs.service import RunService
from .store import Store

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Services:
    """What the web layer calls into; kept on `app.extensions["kd"]`."""

    store: Store
    datasets: Registry
    runs: RunService
    data_dir: Path


def create_app(config=None):
    """Give the Flask app; `config` overrides settings read from the KD_* environment."""
    app = Flask(__name__, template_folder=str(ROOT / "templates"), static_folder=str(ROOT / "static"))
    env = dict(__import__("os").environ)
    env.update({k: str(v) for k, v in (config or {}).items() if k.startswith("KD_")})
    app.config.update(settings.load(env))
    app.config.update({k: v for k, v in (config or {}).items() if not k.startswith("KD_")})
    register_services(app)
    register_extensions(app)
    register_blueprints(app)
    register_commands(app)
    return app


def register_services(app):
    """Open the database, the dataset registry and the run service with its executor."""
    cfg = app.config
    store = Store(cfg["KD_DATABASE_URL"])
    store.create_all()
    datasets = Registry(cfg["KD_DATA_DIR"], store)
    runs = RunService(store, datasets, cfg["KD_DATA_DIR"], max_concurrent=cfg["KD_MAX_CONCURRENT_RUNS"])
    runs.attach(make_executor(cfg, runs))
    app.extensions["kd"] = Services(store=store, datasets=datasets, runs=runs, data_dir=Path(cfg["KD_DATA_DIR"]))


def make_executor(cfg, runs):
    """Give the executor KD_EXECUTOR names (only "local" so far)."""
    if cfg["KD_EXECUTOR"] != "local":
        raise SystemExit(f"KD_EXECUTOR={cfg['KD_EXECUTOR']!r} is not supported yet; use 'local'.")
    from .runs.local import LocalExecutor

    return LocalExecutor(cfg, runs.on_event, runs.on_exit, grace_s=cfg["KD_STOP_GRACE_S"], warm=cfg["KD_WARM_SPARE"])


def register_extensions(app):
    """Bind Flask-SocketIO (only this instance's own origin may open a socket) and start runs.

    The first request a server answers marks runs a previous server left unfinished as interrupted
    and warms a spare trainer process; CLI commands import the app too but never get that far.
    """
    socketio.init_app(app, cors_allowed_origins=None)
    from .web import events

    kd = app.extensions["kd"]
    kd.runs.notify = events.broadcast
    started, lock = [], threading.Lock()

    @app.before_request
    def start_runs():
        if started:
            return
        with lock:
            if not started:
                started.append(True)
                kd.runs.start_up()
                kd.runs.executor.warm()


def register_blueprints(app):
    """Register the pages, the JSON API and the security headers."""
    from .web import api, pages, security, vendor

    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(vendor.bp)
    security.init_app(app)


def register_commands(app):
    """Add the `flask --app wsgi` commands (datasets list/fetch)."""
    from . import commands

    commands.register_commands(app)
