"""The login limit slows a guesser without locking the account's owner out: failures are refused per
client address, and an account under attack answers more slowly rather than not at all. Behind a
proxy (KD_TRUSTED_PROXIES) each client is told apart by X-Forwarded-For; an untrusted header is ignored."""

import pytest

from tests.security.conftest import login, user
from webapp import create_app
from webapp.team.login_guard import LoginGuard
from webapp.web.auth import login_guard


LIMIT = 4   # failures one address may have (the server's is 20: the same rule, fewer password hashes)


@pytest.fixture
def waits(monkeypatch):
    """Give the list of delays the login guard asks for (recorded, not slept)."""
    asked = []
    monkeypatch.setattr(login_guard, "sleep", asked.append)
    monkeypatch.setattr(login_guard, "address_limit", LIMIT)
    return asked


def from_address(address, **headers):
    """Give request arguments as if the client were at `address`, with these headers."""
    return {"environ_overrides": {"REMOTE_ADDR": address}, "headers": headers}


def test_one_address_trying_many_names_is_refused(app, waits):
    guesser = app.test_client()
    answers = [login(guesser, f"name{i}", "wrong-password", **from_address("203.0.113.9")).status_code
               for i in range(LIMIT + 1)]
    assert answers[:-1] == [401] * LIMIT and answers[-1] == 429


def test_the_owner_signs_in_while_their_account_is_guessed_at(app, waits):
    user(app, "bob")
    for i in range(3 * LIMIT):    # a guesser spread over many addresses
        login(app.test_client(), "bob", "wrong-password", **from_address(f"203.0.113.{i}"))
    assert login(app.test_client(), "bob", "password-of-bob", **from_address("198.51.100.7")).status_code == 302


def test_each_failure_on_an_account_slows_its_next_attempt_up_to_a_bound(app, waits):
    user(app, "bob")
    for i in range(10):
        login(app.test_client(), "bob", "wrong-password", **from_address(f"203.0.113.{i}"))
    assert waits == sorted(waits) and waits[-1] == LoginGuard.MAX_DELAY_S
    assert waits[0] == 0 and len(set(waits)) > 3
    assert sum(waits) < 60


def test_behind_a_trusted_proxy_clients_are_told_apart_by_x_forwarded_for(tmp_path, waits):
    app = create_app({"KD_DATA_DIR": str(tmp_path / "data"), "KD_WARM_SPARE": "0", "TESTING": True,
                      "KD_TRUSTED_PROXIES": "1"})
    user(app, "bob")
    proxy = "127.0.0.1"    # nginx on this machine: every request comes from it
    for i in range(LIMIT + 1):
        last = login(app.test_client(), "bob", "wrong", **from_address(proxy, **{"X-Forwarded-For": "203.0.113.9"}))
    assert last.status_code == 429
    owner = login(app.test_client(), "bob", "password-of-bob", **from_address(proxy, **{"X-Forwarded-For": "198.51.100.7"}))
    assert owner.status_code == 302


def test_without_trusted_proxies_a_forged_x_forwarded_for_is_ignored(app, waits):
    guesser = app.test_client()
    for i in range(LIMIT + 1):
        last = login(guesser, "bob", "wrong", **from_address("203.0.113.9", **{"X-Forwarded-For": f"10.0.0.{i}"}))
    assert last.status_code == 429
