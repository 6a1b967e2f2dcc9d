"""Accounts: roles, who may do what, passwords, API tokens, share tokens, and a login rate limit.

No Flask here: the CLI and the web layer both call these. Secrets are stored only as hashes.
"""

import hashlib
import secrets
import threading
import time
from collections import deque

from sqlalchemy import Boolean, DateTime, Integer, String, func, insert, literal, select, text
from werkzeug.security import check_password_hash, generate_password_hash

from .store import Action, ApiToken, Share, User, utcnow

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
            user.session_gen += not active and user.active
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


def new_api_token(store, user_id, label="cli"):
    """Create an API token for a user and give it; only its hash is kept."""
    token = "kd_" + secrets.token_urlsafe(32)
    with store.session() as s:
        s.add(ApiToken(user_id=user_id, token_hash=token_hash(token), label=label))
    return token


def user_for_token(store, token):
    """Give the active user an API token belongs to, or None."""
    if not isinstance(token, str) or not token:
        return None
    with store.session() as s:
        row = s.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(token)))
        if row is None:
            return None
        row.last_used_at = utcnow()
        user = s.get(User, row.user_id)
        return user if user and user.active else None


def new_share(store, run_id, user_id):
    """Create a read-only share token for one run and give it; only its hash is kept."""
    token = secrets.token_urlsafe(24)
    with store.session() as s:
        s.add(Share(run_id=run_id, token_hash=token_hash(token), created_by=user_id))
    return token


def share_run(store, token):
    """Give the run id a live share token opens, or None (unknown or revoked)."""
    if not isinstance(token, str) or not token:
        return None
    with store.session() as s:
        row = s.scalar(select(Share).where(Share.token_hash == token_hash(token), Share.revoked_at.is_(None)))
        return row.run_id if row else None


def revoke_share(store, run_id, token):
    """Revoke a run's share token; give True when it was live."""
    with store.session() as s:
        row = s.scalar(select(Share).where(Share.token_hash == token_hash(token), Share.run_id == run_id,
                                           Share.revoked_at.is_(None)))
        if row is None:
            return False
        row.revoked_at = utcnow()
        return True


def record(store, user_id, action, run_id=None, detail=None):
    """Note who did what (runs started, stopped, continued, deleted; users changed)."""
    with store.session() as s:
        s.add(Action(user_id=user_id, action=action, run_id=run_id, detail=detail or {}))


class RateLimit:
    """Counts of recent events per key: each is forgotten `window_s` seconds after it happened."""

    def __init__(self, window_s=300.0):
        self.window_s = window_s
        self._hits = {}
        self._lock = threading.Lock()

    def _recent(self, key, now):
        hits = self._hits.setdefault(key, deque())
        while hits and now - hits[0] > self.window_s:
            hits.popleft()
        return hits

    def count(self, key):
        """Give how many events `key` had within the window."""
        with self._lock:
            return len(self._recent(key, time.monotonic()))

    def add(self, key):
        """Count one event of `key`."""
        now = time.monotonic()
        with self._lock:
            self._recent(key, now).append(now)

    def retry_after(self, key, limit):
        """Give the seconds until `key` has fewer than `limit` events, or 0 when it has already."""
        now = time.monotonic()
        with self._lock:
            hits = self._recent(key, now)
            return int(self.window_s - (now - hits[-limit])) + 1 if len(hits) >= limit else 0

    def reset(self, key):
        """Forget a key's events."""
        with self._lock:
            self._hits.pop(key, None)

    def clear(self):
        """Forget every key's events."""
        with self._lock:
            self._hits.clear()


class LoginGuard:
    """Slows password guessing without locking an account's owner out.

    Failed sign-ins are refused per client address (`address_limit` in 5 minutes), so one client
    cannot try much. An account is never refused, since anyone could then lock its owner out;
    instead, after FREE_FAILURES recent failures on it, each attempt at it waits before the password
    is checked, twice as long per failure up to MAX_DELAY_S: a guesser spread over many addresses
    gets a few tries a second at most, the owner only a short wait.
    """

    FREE_FAILURES = 3
    MAX_DELAY_S = 5.0

    def __init__(self, window_s=300.0, address_limit=20, sleep=time.sleep):
        self.addresses, self.accounts = RateLimit(window_s), RateLimit(window_s)
        self.address_limit, self.sleep = address_limit, sleep

    def refusal(self, address):
        """Give the seconds this address must wait before trying again, or 0 when it may try."""
        return self.addresses.retry_after(address, self.address_limit)

    def delay(self, name):
        """Give the seconds an attempt at account `name` waits before its password is checked."""
        extra = self.accounts.count(str(name).lower()) - self.FREE_FAILURES
        return 0 if extra < 0 else min(0.25 * 2**extra, self.MAX_DELAY_S)

    def attempt(self, address, name, check):
        """Wait the account's delay, call `check()`; count a failure (falsy answer); give its answer."""
        self.sleep(self.delay(name))
        answer = check()
        if answer:
            self.addresses.reset(address)
        else:
            self.addresses.add(address)
            self.accounts.add(str(name).lower())
        return answer

    def clear(self):
        """Forget every attempt."""
        self.addresses.clear()
        self.accounts.clear()
