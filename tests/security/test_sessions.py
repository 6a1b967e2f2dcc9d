"""Sessions end on the server: after logout, a password change or reset, or disabling, a copied
session cookie is refused (401), not only the browser that signed out."""

import re

import pytest

from tests.conftest import signed_in
from tests.security.conftest import a_run, login, user


def copied_session(app, client):
    """Give a second client that carries a copy of `client`'s session cookie, as a thief would."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def csrf_header(client):
    """Give the X-CSRFToken header a signed-in page's <meta name="csrf-token"> carries."""
    html = client.get("/runs").get_data(as_text=True)
    return {"X-CSRFToken": re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)}


@pytest.fixture
def bob(app):
    """Give a browser signed in as the member bob, and a stored run of his."""
    user(app, "bob")
    browser = app.test_client()
    assert login(browser, "bob", "password-of-bob").status_code == 302
    browser.run_id = a_run(app, "bob")
    return browser


def test_a_copied_cookie_is_refused_after_logout(app, bob):
    thief = copied_session(app, bob)
    assert thief.get("/api/me").status_code == 200
    assert bob.post("/logout", headers=csrf_header(bob)).status_code == 302
    assert thief.get("/api/me").status_code == 401
    assert thief.post(f"/api/runs/{bob.run_id}/shares").status_code == 401


def test_a_copied_cookie_is_refused_after_an_admin_resets_the_password(app, bob):
    thief = copied_session(app, bob)
    admin = signed_in(app, "ada", "admin")
    assert admin.patch(f"/api/users/{user(app, 'bob').id}", json={"password": "a-new-password"}).status_code == 200
    assert thief.get("/api/me").status_code == 401
    assert bob.get("/api/me").status_code == 401          # every session of the account, everywhere
    assert login(app.test_client(), "bob", "a-new-password").status_code == 302


def test_a_copied_cookie_stays_refused_after_disable_and_enable(app, bob):
    thief = copied_session(app, bob)
    admin = signed_in(app, "ada", "admin")
    bob_id = user(app, "bob").id
    assert admin.patch(f"/api/users/{bob_id}", json={"active": False}).status_code == 200
    assert admin.patch(f"/api/users/{bob_id}", json={"active": True}).status_code == 200
    assert thief.get("/api/me").status_code == 401


def test_api_tokens_outlive_a_logout(app, bob):
    script = signed_in(app, "bob", "member")
    assert bob.post("/logout", headers=csrf_header(bob)).status_code == 302
    assert script.get("/api/me").status_code == 200      # revoke a token by itself (users revoke)
