"""Accounts: roles, who may do what, passwords, sessions, API tokens and share tokens.

No Flask here: the CLI and the web layer both call these. Secrets are stored only as hashes.
"""

import hashlib
import secrets
from datetime import timedelta, timezone

from sqlalchemy import Boolean, DateTime, Integer, String, func, insert, literal, select, text
from werkzeug.security import check_password_hash, generate_password_hash

from ..db.store import Action, ApiToken, Share, User, utcnow

ROLES = ("admin", "member", "viewer")
MIN_PASSWORD = 8
NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


class AccountError(ValueError):
    """A request about accounts that cannot be done; the message says why, in a user's words."""


def token_hash(token):
    """Give the stored form of a token: its SHA-256 (tokens are random, so no salt is needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def check_name(name):
    """Give the user name if it is acceptable, else raise AccountError."""
    if not isinstance(name, str) or not 1 <= len(name) <= 64 or not set(name) <= NAME_CHARS:
        raise AccountError("A user name is 1 to 64 letters, digits, dots, dashes or underscores.")
    return name


def check_password(password):
    """Give the password if it is long enough, else raise AccountError."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise AccountError(f"A password needs at least {MIN_PASSWORD} characters.")
    return password


def check_role(role):
    """Give the role if it is one of admin, member, viewer, else raise AccountError."""
    if role not in ROLES:
        raise AccountError(f"A role is one of {', '.join(ROLES)}.")
    return role


def count_users(store):
    """Give how many accounts exist."""
    with store.session() as s:
        return s.scalar(select(func.count()).select_from(User))


def create_user(store, name, role, password=None):
    """Create an account (password None: token-only until one is set) and give it."""
    check_name(name)
    check_role(role)
    if password is not None:
        check_password(password)
    with store.session() as s:
        if s.scalar(select(User).where(func.lower(User.name) == name.lower())):
            raise AccountError(f"There is already a user called {name}.")
        user = User(name=name, role=role, active=True,
                    password_hash=generate_password_hash(password) if password else None)
        s.add(user)
    return user


def create_first_admin(store, name, password):
    """Create the first account, an admin, only while there is none; give it, or None if one exists.

    The check and the insert are one statement in one transaction (PostgreSQL: with the table
    locked), so setup links posted at the same time make one admin, not one each.
    """
    check_name(name)
    password_hash = generate_password_hash(check_password(password))
    row = select(literal(name, String()), literal(password_hash, String()), literal("admin", String()),
                 literal(True, Boolean()), literal(0, Integer()), literal(utcnow(), DateTime()))
    with store.session() as s:
        if s.get_bind().dialect.name == "postgresql":
            s.execute(text("LOCK TABLE users IN EXCLUSIVE MODE"))
        added = s.execute(insert(User).from_select(
            ["name", "password_hash", "role", "active", "session_gen", "created_at"],
            row.where(~select(User.id).exists())).returning(User.id)).scalar_one_or_none()
    return get_user(store, added) if added is not None else None


def find_user(store, name):
    """Give the account called `name` (any case), or None."""
    with store.session() as s:
        return s.scalar(select(User).where(func.lower(User.name) == str(name).lower()))


def get_user(store, user_id):
    """Give the account with this id, or None."""
    with store.session() as s:
        return s.get(User, user_id)


def authenticate(store, name, password):
    """Give the active user with this name and password, or None (the same None for every reason)."""
    user = find_user(store, name)
    if user is None or not user.active or not user.password_hash or not isinstance(password, str):
        check_password_hash(_DUMMY_HASH, "x")   # take as long as a real check: no user-name oracle
        return None
    return user if check_password_hash(user.password_hash, password) else None


_DUMMY_HASH = generate_password_hash("not-a-password")


def update_user(store, user_id, role=None, active=None, password=None):
    """Change a user's role, active flag or password; give the user.

    A new password or disabling ends every session the account has (see `end_sessions`).
    """
    with store.session() as s:
        user = s.get(User, user_id)
        if user is None:
            raise AccountError(f"There is no user {user_id}.")
        if role is not None:
            user.role = check_role(role)
        if active is not None:
            if not isinstance(active, bool):
                raise AccountError("active is true or false.")
            if user.active and not active:
                user.session_gen += 1
            user.active = active
        if password is not None:
            user.password_hash = generate_password_hash(check_password(password))
            user.session_gen += 1
        return user


def end_sessions(store, user_id):
    """End every session of an account, on every browser (logout everywhere); API tokens stay."""
    with store.session() as s:
        user = s.get(User, user_id)
        if user is not None:
            user.session_gen += 1


def session_user(store, user_id, session_gen):
    """Give the active user of a session signed in at `session_gen`, or None once it has ended."""
    user = get_user(store, user_id)
    return user if user and user.active and user.session_gen == session_gen else None


TOKEN_DAYS = 90   # an API token's life unless asked otherwise (0: never expires)


def new_api_token(store, user_id, label="cli", days=TOKEN_DAYS):
    """Create an API token for a user, valid `days` days (0 or None: no expiry), and give it.

    Only its hash is kept: the token itself is shown once.
    """
    token = "kd_" + secrets.token_urlsafe(32)
    expires = utcnow() + timedelta(days=days) if days else None
    with store.session() as s:
        s.add(ApiToken(user_id=user_id, token_hash=token_hash(token), label=label, expires_at=expires))
    return token


# A token's last use is written at most once a minute: a write on every request was a commit each
# script call waited on (27 ms), and one that queued behind a running training's journal writes.
LAST_USED_EVERY = timedelta(minutes=1)


def _aware(when):
    return when if when is None or when.tzinfo else when.replace(tzinfo=timezone.utc)


def _expired(row):
    return row.expires_at is not None and _aware(row.expires_at) <= utcnow()


def user_for_token(store, token):
    """Give the active user a live (not expired, not revoked) API token belongs to, or None."""
    if not isinstance(token, str) or not token:
        return None
    with store.session() as s:
        row = s.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(token)))
        if row is None or _expired(row):
            return None
        now = utcnow()
        if row.last_used_at is None or now - _aware(row.last_used_at) >= LAST_USED_EVERY:
            row.last_used_at = now
        user = s.get(User, row.user_id)
        return user if user and user.active else None


def _iso(when):
    return when.replace(tzinfo=when.tzinfo or timezone.utc).isoformat() if when else None


def list_tokens(store, user_id=None):
    """Give the API tokens (of one user, or everyone's) as dicts, newest first; never the token."""
    query = select(ApiToken, User.name).join(User, ApiToken.user_id == User.id).order_by(ApiToken.id.desc())
    if user_id is not None:
        query = query.where(ApiToken.user_id == user_id)
    with store.session() as s:
        return [{"id": t.id, "user": name, "label": t.label, "created_at": _iso(t.created_at),
                 "last_used_at": _iso(t.last_used_at), "expires_at": _iso(t.expires_at)}
                for t, name in s.execute(query)]


def revoke_token(store, token_id):
    """Revoke (delete) an API token by its id; give True when it existed."""
    with store.session() as s:
        row = s.get(ApiToken, token_id)
        if row is None:
            return False
        s.delete(row)
        return True


def new_share(store, run_id, user_id, sweep_id=None):
    """Create a read-only share token for one run (or, with run_id None, one sweep) and give it; only its hash is kept."""
    token = secrets.token_urlsafe(24)
    with store.session() as s:
        s.add(Share(run_id=run_id, sweep_id=sweep_id, token_hash=token_hash(token), created_by=user_id))
    return token


def share_target(store, token):
    """Give what a live share token opens: ("run", id) or ("sweep", id); None when unknown or revoked."""
    if not isinstance(token, str) or not token:
        return None
    with store.session() as s:
        row = s.scalar(select(Share).where(Share.token_hash == token_hash(token), Share.revoked_at.is_(None)))
        if row is None:
            return None
        return ("run", row.run_id) if row.run_id is not None else ("sweep", row.sweep_id)


def share_run(store, token):
    """Give the run id a live run share token opens, or None (unknown, revoked, or a sweep's)."""
    target = share_target(store, token)
    return target[1] if target and target[0] == "run" else None


def revoke_share(store, run_id, token, sweep_id=None):
    """Revoke a run's (or, with run_id None, a sweep's) share token; give True when it was live."""
    with store.session() as s:
        row = s.scalar(select(Share).where(Share.token_hash == token_hash(token), Share.run_id == run_id
                                           if run_id is not None else Share.sweep_id == sweep_id,
                                           Share.revoked_at.is_(None)))
        if row is None:
            return False
        row.revoked_at = utcnow()
        return True


def record(store, user_id, action, run_id=None, detail=None):
    """Note who did what (runs started, stopped, continued, deleted; users changed)."""
    with store.session() as s:
        s.add(Action(user_id=user_id, action=action, run_id=run_id, detail=detail or {}))
