"""The Keras dashboard: `create_app(config=None)` builds the Flask app and its services."""

from dataclasses import dataclass
from pathlib import Path

from flask import Flask

from . import config as settings
from .datasets import Registry
from .extensions import socketio
from .store import Store

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Services:
    """What the web layer calls into; kept on `app.extensions["kd"]`."""

    store: Store
    datasets: Registry


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
    return app


def register_services(app):
    """Open the database and the dataset registry."""
    store = Store(app.config["KD_DATABASE_URL"])
    store.create_all()
    app.extensions["kd"] = Services(store=store, datasets=Registry(app.config["KD_DATA_DIR"], store))


def register_extensions(app):
    """Bind Flask-SocketIO; only this instance's own origin may open a socket."""
    socketio.init_app(app, cors_allowed_origins=None)


def register_blueprints(app):
    """Register the pages, the JSON API and the security headers."""
    from .web import api, pages, security

    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    security.init_app(app)
