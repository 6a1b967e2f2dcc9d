"""Signing in: Flask-Login sessions, API tokens (Bearer), the first admin's setup link, login pages.

Who may do what is decided in web/access.py; this module only says who is asking.
"""

import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, g, jsonify, redirect, render_template, request, url_for
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user

from ..modelspec.numbers import whole
from ..team import accounts
from ..team.login_guard import LoginGuard
from . import services
from .events import drop_user

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
login_guard = LoginGuard(window_s=300)


class Principal(UserMixin):
    """The signed-in user as Flask-Login sees it: id, name, role, and the session generation."""

    def __init__(self, user):
        self.id, self.name, self.role, self.session_gen = user.id, user.name, user.role, user.session_gen

    def get_id(self):
        """Give what the session cookie keeps: "ID:GENERATION", so raising the generation ends it."""
        return f"{self.id}:{self.session_gen}"

    def to_dict(self):
        """Give the `GET /api/me` form."""
        return {"id": self.id, "name": self.name, "role": self.role}


@login_manager.user_loader
def _load_user(session_id):
    user_id, _, gen = str(session_id).partition(":")
    user_id, gen = whole(user_id), whole(gen)
    if user_id is None or gen is None:
        return None   # a cookie from before generations, or forged: sign in again
    user = accounts.session_user(services().store, user_id, gen)
    return Principal(user) if user else None


@login_manager.request_loader
def _load_from_header(req):
    header = req.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    user = accounts.user_for_token(services().store, header[7:].strip())
    if user is None:
        return None
    g.token_auth = True   # no cookie, so no CSRF check for this request
    return Principal(user)


def setup_token_path(app):
    """Give the file that holds the one-time setup token while no user exists."""
    return Path(app.config["KD_DATA_DIR"]) / "setup_token"


def setup_link(app):
    """Give the one-time setup URL path when no user exists yet (creating its token), else None."""
    if accounts.count_users(app.extensions["kd"].store):
        return None
    path = setup_token_path(app)
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(24))
    return f"/setup?token={path.read_text().strip()}"


def _setup_token_ok(token):
    path = setup_token_path(current_app)
    return (isinstance(token, str) and path.exists() and not accounts.count_users(services().store)
            and secrets.compare_digest(token, path.read_text().strip()))


@bp.route("/setup", methods=["GET", "POST"])
def setup():
    """Create the first admin from the one-time link the server printed; then the link is dead."""
    token = request.values.get("token", "")
    if not _setup_token_ok(token):
        return _dead_setup_link()
    error = None
    if request.method == "POST":
        try:
            user = accounts.create_first_admin(services().store, request.form.get("name", ""),
                                               request.form.get("password", ""))
        except accounts.AccountError as exc:
            error = str(exc)
        else:
            if user is None:
                return _dead_setup_link()   # another post of the link made the admin first
            setup_token_path(current_app).unlink(missing_ok=True)
            accounts.record(services().store, user.id, "setup", detail={"user": user.name})
            login_user(Principal(user))
            return redirect(url_for("pages.builder"))
    return render_template("setup.html", page="setup", title="Create the first admin", token=token,
                           error=error, data={}), (400 if error else 200)


def _dead_setup_link():
    return render_template("message.html", page="message", title="Setup link not valid",
                           message="This setup link is not valid any more: an admin exists already, "
                                   "or the link was mistyped. Sign in instead.", data={}), 404


def _safe_next(target):
    parts = urlsplit(target or "")
    return target if target and not parts.scheme and not parts.netloc and target.startswith("/") else url_for("pages.builder")


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in with name and password; failures are limited per address and slowed per account."""
    error, status = None, 200
    if request.method == "POST":
        name = request.form.get("name", "")
        wait = login_guard.refusal(request.remote_addr)
        if wait:
            error, status = f"Too many failed attempts from your address: try again in {wait} s.", 429
        else:
            user = login_guard.attempt(request.remote_addr, name, lambda: accounts.authenticate(
                services().store, name, request.form.get("password", "")))
            if user:
                login_user(Principal(user))
                return redirect(_safe_next(request.args.get("next")))
            error, status = "Wrong name or password, or the account is disabled.", 401
    link = setup_link(current_app)
    return render_template("login.html", page="login", title="Sign in", error=error, data={},
                           no_users=link is not None), status


@bp.post("/logout")
def logout():
    """Sign out everywhere (every session of the account ends on the server) and go to the sign-in page."""
    accounts.end_sessions(services().store, current_user.id)
    drop_user(current_user.id, sessions_only=True)
    logout_user()
    flash("Signed out.")
    return redirect(url_for("auth.login"))


@bp.get("/api/me")
def me():
    """Give the signed-in user's name and role."""
    return jsonify({"user": current_user.to_dict()})
