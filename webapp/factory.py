"""The app factory: `create_app(config=None)` builds the Flask app and its services (`webapp.create_app`)."""

from dataclasses import dataclass
from pathlib import Path

from flask import Flask

from . import config as settings
from .db import migrations
from .datasets import Registry
from .datasets.builds import Builds
from .deploy.exports import Exports
from .extensions import socketio
from .runs.service import RunService
from .sweeps.service import SweepService
from .db.store import Store

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Services:
    """What the web layer calls into; kept on `app.extensions["kd"]`."""

    store: Store
    datasets: Registry
    builds: Builds
    runs: RunService
    sweeps: SweepService
    exports: Exports
    data_dir: Path


def create_app(config=None):
    """Give the Flask app; `config` overrides settings read from the KD_* environment."""
    app = Flask(__package__, template_folder=str(ROOT / "templates"), static_folder=str(ROOT / "static"))
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
    if cfg["KD_EXECUTOR"] == "local":
        # The embedded default migrates itself; a team deployment runs `flask --app wsgi db upgrade` once.
        migrations.upgrade(store.engine)
    datasets = Registry(cfg["KD_DATA_DIR"], store, max_dataset_mb=cfg["KD_MAX_DATASET_MB"])
    service = RunService
    if cfg["KD_EXECUTOR"] == "rq":
        from .runs.rq import RQRunService as service
    runs = service(store, datasets, cfg["KD_DATA_DIR"], max_concurrent=cfg["KD_MAX_CONCURRENT_RUNS"],
                   max_params=cfg["KD_MAX_PARAMS"], max_queued=cfg["KD_MAX_QUEUED_PER_USER"],
                   max_activation_mb=cfg["KD_MAX_ACTIVATION_MB"])
    runs.download_weights = cfg["KD_DOWNLOAD_WEIGHTS"]
    runs.attach(make_executor(cfg, runs))
    builds = Builds(cfg, datasets)
    runs.at_start_up.append(builds.start_up)   # builds a previous server left fail when runs are marked
    sweeps = SweepService(store, runs, cfg["KD_DATABASE_URL"], cfg["KD_MAX_TRIALS"])
    runs.at_start_up.append(sweeps.start_up)   # after runs are marked: the scheduler sees their end
    runs.watchers.append(sweeps.on_run_event)
    exports = Exports(cfg)
    runs.at_start_up.append(exports.start_up)   # exports a previous server left building fail
    app.extensions["kd"] = Services(store=store, datasets=datasets, builds=builds, runs=runs, sweeps=sweeps,
                                    exports=exports,
                                    data_dir=Path(cfg["KD_DATA_DIR"]))


def make_executor(cfg, runs):
    """Give the executor KD_EXECUTOR names: "local" (spawned processes here) or "rq" (RQ workers)."""
    if cfg["KD_EXECUTOR"] == "rq":
        from .runs.rq import RQExecutor

        return RQExecutor(cfg, runs.store)
    from .runs.local import LocalExecutor

    return LocalExecutor(cfg, runs.on_event, runs.on_exit, grace_s=cfg["KD_STOP_GRACE_S"], warm=cfg["KD_WARM_SPARE"])


def register_extensions(app):
    """Bind Flask-SocketIO (only this instance's own origin may open a socket) and start runs.

    Serving begins with RunService.begin: runs a previous server left unfinished are marked
    interrupted, dataset builds it left without a builder fail, a spare trainer process warms. `python wsgi.py` calls it before it serves; any
    other server's first request does. CLI commands import the app too but never get that far.
    """
    # With RQ every instance listens on Socket.IO's Redis message queue, where workers emit. The
    # unbound socketio keeps options across init_app calls, so the local case says "none" outright.
    queue = None
    if app.config["KD_EXECUTOR"] == "rq":
        from .web import message_queue

        queue = message_queue.manager(app.config["KD_REDIS_URL"], app.config["KD_SOCKETIO_CHANNEL"],
                                      on_event=app.extensions["kd"].sweeps.on_run_event)
    # Import the handlers before init_app: @socketio.on only queues a handler for every later
    # init_app while no app is bound; imported after the first one, the next apps had none.
    from .web import events, fanout

    socketio.init_app(app, cors_allowed_origins=None, client_manager=queue)
    fanout.install(socketio.server.eio, events.batch_key)   # run_batch events coalesce for a slow viewer

    kd = app.extensions["kd"]
    kd.runs.notify = events.broadcast
    kd.builds.notify = events.broadcast_dataset
    kd.sweeps.notify = events.broadcast_sweep
    kd.exports.notify = events.broadcast   # run_export, to the run's room
    # `python wsgi.py` begins at once; under another server the first request does (once).
    app.before_request(lambda: kd.runs.begin(app.config["KD_WARM_SPARE"]))


def register_blueprints(app):
    """Register the pages, the JSON API and the security headers."""
    from .web import access, api, auth, pages, security, vendor

    auth.login_manager.init_app(app)
    access.init_app(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(vendor.bp)
    security.init_app(app)


def register_commands(app):
    """Add the `flask --app wsgi` commands (datasets list/fetch)."""
    from . import commands

    commands.register_commands(app)
