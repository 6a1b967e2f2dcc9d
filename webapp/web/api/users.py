"""Accounts for admins: list, add, change role, disable, reset passwords; API tokens; and who did what."""

from flask import jsonify
from flask_login import current_user
from sqlalchemy import select

from ...team import accounts
from ...db.store import Action, Run, User
from .. import services
from ..events import drop_user
from . import bp
from .errors import error, json_body


def user_json(user):
    """Give a user as the admin page shows it (never a password hash)."""
    return {"id": user.id, "name": user.name, "role": user.role, "active": user.active,
            "created_at": user.created_at.isoformat() if user.created_at else None}


@bp.errorhandler(accounts.AccountError)
def _account_error(exc):
    return error(400, str(exc))


@bp.get("/users")
def list_users():
    """Give every account."""
    with services().store.session() as s:
        return jsonify({"users": [user_json(u) for u in s.scalars(select(User).order_by(User.name))]})


@bp.post("/users")
def create_user():
    """Add an account: {"name", "role", "password"} -> 201 {"user"}."""
    body = json_body()
    body = body if isinstance(body, dict) else {}
    # Over the API an account always has a password (a token-only one is made with the CLI's --no-password).
    accounts.check_password(body.get("password"))
    user = accounts.create_user(services().store, body.get("name"), body.get("role", "member"), body.get("password"))
    accounts.record(services().store, current_user.id, "user.create", detail={"user": user.name, "role": user.role})
    return jsonify({"user": user_json(user)}), 201


@bp.patch("/users/<int:user_id>")
def update_user(user_id):
    """Change an account's role, active flag or password: {"role"?, "active"?, "password"?}."""
    body = json_body()
    body = body if isinstance(body, dict) else {}
    if user_id == current_user.id and (body.get("active") is False or body.get("role") not in (None, "admin")):
        return error(400, "You cannot disable yourself or take away your own admin role.")
    user = accounts.update_user(services().store, user_id, role=body.get("role"), active=body.get("active"),
                                password=body.get("password"))
    if body.get("active") is False or "role" in body:
        drop_user(user_id)                                 # their streams end with their rights
    elif "password" in body:
        drop_user(user_id, sessions_only=True)
    changed = {k: ("(new password)" if k == "password" else body[k]) for k in ("role", "active", "password") if k in body}
    accounts.record(services().store, current_user.id, "user.update", detail={"user": user.name, **changed})
    return jsonify({"user": user_json(user)})


@bp.get("/tokens")
def list_tokens():
    """Give every API token: id, user, label, created, last used, expires (never the token itself)."""
    return jsonify({"tokens": accounts.list_tokens(services().store)})


@bp.delete("/tokens/<int:token_id>")
def revoke_token(token_id):
    """Revoke an API token at once: 204."""
    if not accounts.revoke_token(services().store, token_id):
        return error(404, f"There is no API token {token_id}.")
    accounts.record(services().store, current_user.id, "token.revoke", detail={"token": token_id})
    return "", 204


@bp.get("/actions")
def list_actions():
    """Give the 200 most recent actions: who did what, to which run, when."""
    with services().store.session() as s:
        rows = s.execute(select(Action, User.name, Run.name).outerjoin(User, Action.user_id == User.id)
                         .outerjoin(Run, Action.run_id == Run.id).order_by(Action.id.desc()).limit(200)).all()
        return jsonify({"actions": [{"at": a.at.isoformat(), "user": user, "action": a.action, "run_id": a.run_id,
                                     "run": run, "detail": a.detail} for a, user, run in rows]})
