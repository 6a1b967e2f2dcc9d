"""Signing in, CSRF, the setup link, API tokens, share links and Socket.IO connections."""

import re

import pytest

from tests.conftest import signed_in
from tests.specs import MLP
from webapp.team import accounts
from webapp import create_app
from webapp.extensions import socketio
from webapp.modelspec.validate import validate
from webapp.db.store import Run
from webapp.web.auth import login_guard, setup_link


def csrf_of(html):
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def login(client, name, password):
    token = csrf_of(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"name": name, "password": password, "csrf_token": token})


@pytest.fixture
def member(app):
    accounts.create_user(app.extensions["kd"].store, "bob", "member", "bob-password")
    login_guard.clear()
    return app.test_client()


def a_run(app, owner_name="bob", status="completed"):
    store = app.extensions["kd"].store
    with store.session() as s:
        run = Run(name="r", owner_id=accounts.find_user(store, owner_name).id, status=status, dataset="digits",
                  history={}, spec=validate(MLP, require_run=True).to_dict(), epochs_planned=1)
        s.add(run)
    return run.id


def test_login_with_the_form_and_a_session(member):
    r = login(member, "bob", "bob-password")
    assert r.status_code == 302 and r.headers["Location"] == "/"
    assert member.get("/api/me").get_json() == {"user": {"id": 1, "name": "bob", "role": "member"}}
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_wrong_password_is_401_with_one_message_for_every_reason(member):
    wrong = login(member, "bob", "nope-nope")
    nobody = login(member, "nobody", "nope-nope")
    assert wrong.status_code == nobody.status_code == 401
    assert "Wrong name or password" in wrong.get_data(as_text=True)
    assert member.get("/api/me").status_code == 401


def test_login_needs_the_csrf_token(member):
    r = member.post("/login", data={"name": "bob", "password": "bob-password"})
    assert r.status_code == 400 and member.get("/api/me").status_code == 401


def test_login_attempts_are_limited(member, monkeypatch):
    # The rules themselves are held by tests/security/test_login_limit.py.
    monkeypatch.setattr(login_guard, "sleep", lambda s: None)
    monkeypatch.setattr(login_guard, "address_limit", 3)
    for _ in range(login_guard.address_limit):
        assert login(member, "bob", "wrong-password").status_code == 401
    r = login(member, "bob", "bob-password")
    assert r.status_code == 429 and "Too many failed attempts" in r.get_data(as_text=True)


def test_login_redirects_only_within_the_site(member):
    token = csrf_of(member.get("/login").get_data(as_text=True))
    r = member.post("/login?next=https://evil.example/", data={"name": "bob", "password": "bob-password",
                                                                "csrf_token": token})
    assert r.headers["Location"] == "/"


def test_cookie_json_calls_need_the_csrf_header(member, app):
    login(member, "bob", "bob-password")
    run_id = a_run(app)
    r = member.patch(f"/api/runs/{run_id}", json={"name": "x"})
    assert r.status_code == 400 and "CSRF" in r.get_json()["error"]["message"]
    page = member.get("/").get_data(as_text=True)
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)
    r = member.patch(f"/api/runs/{run_id}", json={"name": "x"}, headers={"X-CSRFToken": token})
    assert r.status_code == 200 and r.get_json()["run"]["name"] == "x"


def test_bearer_token_calls_need_no_csrf_and_a_disabled_user_is_refused(app):
    client = signed_in(app, "script", "member")
    assert client.post("/api/runs", json=MLP).status_code in (201, 422)
    store = app.extensions["kd"].store
    accounts.update_user(store, accounts.find_user(store, "script").id, active=False)
    assert client.get("/api/runs").status_code == 401


def test_a_wrong_token_is_401(app):
    r = app.test_client().get("/api/runs", headers={"Authorization": "Bearer kd_not-a-token"})
    assert r.status_code == 401 and "Sign in" in r.get_json()["error"]["message"]


def test_pages_send_anonymous_users_to_the_login_page(app):
    r = app.test_client().get("/runs?x=1")
    assert r.status_code == 302 and r.headers["Location"] == "/login?next=/runs?x%3D1"


def test_setup_link_makes_the_first_admin_once(app):
    anonymous = app.test_client()
    link = setup_link(app)
    assert link.startswith("/setup?token=")
    page = anonymous.get(link)
    assert page.status_code == 200
    token = link.split("=", 1)[1]
    r = anonymous.post("/setup", data={"token": token, "name": "root", "password": "short",
                                       "csrf_token": csrf_of(page.get_data(as_text=True))})
    assert r.status_code == 400 and "at least 8 characters" in r.get_data(as_text=True)
    r = anonymous.post("/setup", data={"token": token, "name": "root", "password": "root-password",
                                       "csrf_token": csrf_of(page.get_data(as_text=True))})
    assert r.status_code == 302
    assert anonymous.get("/api/me").get_json()["user"] == {"id": 1, "name": "root", "role": "admin"}
    assert app.test_client().get(link).status_code == 404
    assert setup_link(app) is None


def test_cli_creates_users_and_prints_tokens(app):
    runner = app.test_cli_runner()
    r = runner.invoke(args=["users", "create", "carol", "--role", "viewer", "--password", "carol-password"])
    assert r.exit_code == 0 and "Created viewer carol" in r.output
    r = runner.invoke(args=["users", "create", "carol", "--role", "viewer", "--password", "carol-password"])
    assert r.exit_code != 0 and "already a user called carol" in r.output
    token = runner.invoke(args=["users", "token", "carol"]).output.strip()
    me = app.test_client().get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert me.get_json()["user"]["name"] == "carol"
    assert runner.invoke(args=["users", "token", "nobody"]).exit_code != 0


def test_share_link_opens_one_run_read_only_until_revoked(app, member):
    owner = signed_in(app, "bob", "member")
    run_id, other = a_run(app), a_run(app)
    share = owner.post(f"/api/runs/{run_id}/shares").get_json()["share"]
    assert share["url"].endswith(f"/runs/{run_id}?share={share['token']}")
    anonymous = app.test_client()
    assert anonymous.get(f"/api/runs/{run_id}?share={share['token']}").status_code == 200
    assert anonymous.get(f"/runs/{run_id}?share={share['token']}").status_code == 200
    assert anonymous.get(f"/api/runs/{other}?share={share['token']}").status_code == 401
    assert anonymous.post(f"/api/runs/{run_id}/stop?share={share['token']}").status_code == 401
    assert anonymous.get(f"/api/runs?share={share['token']}").status_code == 401
    assert owner.delete(f"/api/runs/{run_id}/shares/{share['token']}").status_code == 204
    assert anonymous.get(f"/api/runs/{run_id}?share={share['token']}").status_code == 401
    assert owner.delete(f"/api/runs/{run_id}/shares/{share['token']}").status_code == 404


def test_the_run_says_who_did_what(app):
    owner = signed_in(app, "bob", "member")
    admin = signed_in(app)
    owner.get("/api/me")   # the server's first request marks unfinished runs interrupted: let it pass
    run_id = a_run(app, status="queued")
    assert admin.post(f"/api/runs/{run_id}/stop").status_code == 202
    owner.post(f"/api/runs/{run_id}/continue", json={"epochs": 1})
    run = owner.get(f"/api/runs/{run_id}").get_json()["run"]
    assert run["owner"] == "bob"
    assert [(a["action"], a["user"]) for a in run["actions"]] == [("run.stop", "admin"), ("run.continue", "bob")]
    actions = admin.get("/api/actions").get_json()["actions"]
    assert actions[0]["action"] == "run.continue" and actions[0]["user"] == "bob"


def socket(app, flask_client=None, **auth):
    return socketio.test_client(app, namespace="/runs", auth=auth or None, flask_test_client=flask_client)


def test_socket_needs_a_session_a_token_or_a_share(app, member):
    assert not socket(app).is_connected("/runs")
    assert not socket(app, token="kd_wrong").is_connected("/runs")
    bob = signed_in(app, "bob", "member")
    run_id, other = a_run(app), a_run(app)
    by_token = socket(app, token=bob.token)
    assert by_token.emit("subscribe", {"run_id": run_id}, namespace="/runs", callback=True) == {"ok": True}
    assert by_token.get_received("/runs")[0]["name"] == "run_history"
    login(member, "bob", "bob-password")
    assert socket(app, flask_client=member).is_connected("/runs")


def test_socket_share_opens_its_run_only_and_revoking_closes_it(app):
    bob = signed_in(app, "bob", "member")
    run_id, other = a_run(app), a_run(app)
    token = bob.post(f"/api/runs/{run_id}/shares").get_json()["share"]["token"]
    viewer = socket(app, share=token)
    assert viewer.is_connected("/runs")
    assert viewer.emit("subscribe", {"run_id": run_id}, namespace="/runs", callback=True) == {"ok": True}
    refused = viewer.emit("subscribe", {"run_id": other}, namespace="/runs", callback=True)
    assert refused["ok"] is False and "another run" in refused["error"]
    bob.delete(f"/api/runs/{run_id}/shares/{token}")
    assert not viewer.is_connected("/runs")
    assert not socket(app, share=token).is_connected("/runs")


def test_pages_escape_names_and_carry_no_inline_script(app):
    owner = signed_in(app, "bob", "member")
    run_id = a_run(app)
    owner.patch(f"/api/runs/{run_id}", json={"name": "</script><script>alert(1)</script>"})
    r = owner.get(f"/runs/{run_id}")
    html = r.get_data(as_text=True)
    assert "<script>alert(1)" not in html and "\\u003c/script\\u003e" in html
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in r.headers["Content-Security-Policy"].split("script-src")[1].split(";")[0]
    assert re.findall(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", html) == []


def test_an_uploaded_dataset_has_its_uploader_as_owner(app):
    import io

    import numpy as np

    bob = signed_in(app, "bob", "member")
    buf = io.BytesIO()
    np.savez(buf, x_train=np.zeros((4, 4, 4), np.uint8), y_train=np.array([0, 1, 0, 1]),
             x_test=np.zeros((2, 4, 4), np.uint8), y_test=np.array([0, 1]))
    r = bob.post("/api/datasets", data={"file": (io.BytesIO(buf.getvalue()), "t.npz"), "name": "t"},
                 content_type="multipart/form-data")
    assert r.status_code == 201
    assert r.get_json()["dataset"]["owner_id"] == accounts.find_user(app.extensions["kd"].store, "bob").id
