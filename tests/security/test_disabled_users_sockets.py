"""An account that is disabled or demoted loses its open sockets at once, and a socket that
outlives its account's rights cannot subscribe to anything."""

import pytest

from tests.conftest import signed_in
from tests.security.conftest import a_run, login, socket, user
from webapp.team import accounts


@pytest.mark.parametrize("change", [{"active": False}, {"role": "viewer"}])
def test_disabling_or_demoting_a_user_closes_their_sockets(app, change):
    admin = signed_in(app, "ada", "admin")
    bob = signed_in(app, "bob", "member")
    run_id = a_run(app, "bob")
    by_token = socket(app, token=bob.token)
    assert by_token.emit("subscribe", {"run_id": run_id}, namespace="/runs", callback=True)["ok"]
    assert admin.patch(f"/api/users/{user(app, 'bob').id}", json=change).status_code == 200
    assert not by_token.is_connected("/runs")


def test_a_socket_of_a_disabled_user_cannot_subscribe(app):
    bob = signed_in(app, "bob", "member")
    run_id = a_run(app, "bob")
    by_token = socket(app, token=bob.token)
    # Disabled behind the web layer's back (the CLI, another instance): the next subscribe still checks.
    accounts.update_user(app.extensions["kd"].store, user(app, "bob").id, active=False)
    answer = by_token.emit("subscribe", {"run_id": run_id}, namespace="/runs", callback=True)
    assert answer["ok"] is False and not by_token.get_received("/runs")


def test_a_new_password_closes_the_sockets_of_sessions_not_of_tokens(app):
    admin = signed_in(app, "ada", "admin")
    script = signed_in(app, "bob", "member")
    browser = app.test_client()
    assert login(browser, "bob", "password-of-bob").status_code == 302
    by_cookie, by_token = socket(app, flask_client=browser), socket(app, token=script.token)
    assert by_cookie.is_connected("/runs") and by_token.is_connected("/runs")
    assert admin.patch(f"/api/users/{user(app, 'bob').id}", json={"password": "a-new-password"}).status_code == 200
    assert not by_cookie.is_connected("/runs") and by_token.is_connected("/runs")
