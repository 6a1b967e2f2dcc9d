"""Helpers for the security promises: users, a browser-like sign-in, a stored run, a socket."""

import re
import tracemalloc

import pytest

from tests.specs import MLP
from webapp.team import accounts
from webapp.extensions import socketio
from webapp.modelspec.validate import validate
from webapp.db.store import Run
from webapp.web.auth import login_guard


def csrf_of(html):
    """Give the CSRF token a page's form carries."""
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def login(client, name, password, **kwargs):
    """Sign in through the login form as a browser does; give the answer."""
    token = csrf_of(client.get("/login", **kwargs).get_data(as_text=True))
    return client.post("/login", data={"name": name, "password": password, "csrf_token": token}, **kwargs)


def user(app, name, role="member"):
    """Give the account `name` (made with the password `password-of-NAME` when new)."""
    store = app.extensions["kd"].store
    return accounts.find_user(store, name) or accounts.create_user(store, name, role, f"password-of-{name}")


def a_run(app, owner, status="completed"):
    """Store a run of the small MLP owned by `owner`; give its id."""
    with app.extensions["kd"].store.session() as s:
        run = Run(name="r", owner_id=user(app, owner).id, status=status, dataset="digits", history={},
                  spec=validate(MLP, require_run=True).to_dict(), epochs_planned=1)
        s.add(run)
    return run.id


def peak_while(call):
    """Give (call(), the most memory Python and numpy allocated in this process meanwhile)."""
    tracemalloc.start()
    try:
        result = call()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def socket(app, flask_client=None, **auth):
    """Give a Socket.IO test client on /runs (the session of `flask_client`, or auth={...})."""
    return socketio.test_client(app, namespace="/runs", auth=auth or None, flask_test_client=flask_client)


@pytest.fixture(autouse=True)
def _fresh_login_limits():
    """Forget login attempts between tests (the limit lives in the process)."""
    login_guard.clear()
    yield
    login_guard.clear()
