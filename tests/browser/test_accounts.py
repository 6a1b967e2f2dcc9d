"""Accounts in real Chromium: signing in and out, the first admin's setup link, the admin page."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import USERS, Screens, new_server, sign_in

pytestmark = pytest.mark.browser


def login_attempt(page, name, password):
    """Send the login form once; give the server's answer to the POST."""
    page.locator("#login-name").fill(name)
    page.locator("#login-password").fill(password)
    with page.expect_response(lambda r: r.request.method == "POST" and "/login" in r.url) as answer:
        page.locator("#login-submit").click()
    return answer.value


def test_a_wrong_password_is_refused_the_right_one_signs_in_and_sign_out_ends_it(open_page, request):
    page = open_page()
    screens = Screens(page, request.node.name)
    page.goto("/runs")
    # Nobody is signed in: the sign-in page, which comes back to the runs list afterwards.
    expect(page).to_have_url(re.compile(r"/login\?next=(/|%2F)runs$"))
    expect(page.locator("#login-form")).to_be_visible()
    expect(page.locator("#current-user")).to_have_count(0)
    expect(page.locator(".topbar nav a")).to_have_count(0)
    assert page.request.get("/api/me").status == 401

    answer = login_attempt(page, "bob", "not-bobs-password")
    assert answer.status == 401
    expect(page.locator("#login-error")).to_have_text("Wrong name or password, or the account is disabled.")
    expect(page.locator("#current-user")).to_have_count(0)
    screens("wrong-password")

    assert login_attempt(page, "bob", USERS["bob"][1]).status == 302
    expect(page).to_have_url(re.compile(r"/runs$"))
    expect(page.locator("#current-user")).to_contain_text("bob")
    expect(page.locator("#current-user .role")).to_have_text("member")
    expect(page.get_by_role("link", name="Admin")).to_have_count(0)   # bob is no admin
    me = page.request.get("/api/me")
    assert me.status == 200 and me.json()["user"]["name"] == "bob" and me.json()["user"]["role"] == "member"
    screens("signed-in")

    page.locator("#sign-out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator(".auth-card .note")).to_have_text("Signed out.")
    assert page.request.get("/api/me").status == 401
    page.goto("/runs")
    expect(page.locator("#login-form")).to_be_visible()
    screens("signed-out")


def test_the_setup_link_makes_the_first_admin_once(open_page, tmp_path_factory, request):
    server = new_server(tmp_path_factory, "kd-empty", KD_WARM_SPARE="0").start()
    try:
        link = server.wait_for_line(r"No account yet: create the first admin at (http://\S+/setup\?token=\S+)").group(1)
        assert link.startswith(f"{server}/setup?token=")
        page = open_page(server=server)
        screens = Screens(page, request.node.name)
        page.goto("/")
        expect(page.locator("#login-form")).to_be_visible()
        expect(page.locator(".auth-card")).to_contain_text("No account exists yet")
        screens("no-account-yet")

        page.goto(link)
        expect(page.locator("h1")).to_have_text("Create the first admin")
        page.locator("#setup-name").fill("root")
        page.locator("#setup-password").fill("root-password-1")
        screens("setup-form")
        page.locator("#setup-submit").click()
        # Signed in as the new admin, on the builder, with the admin page in reach.
        expect(page.locator("#current-user")).to_contain_text("root")
        expect(page.locator("#current-user .role")).to_have_text("admin")
        page.get_by_role("link", name="Admin").click()
        expect(page.locator('#users-body tr[data-user="root"]')).to_have_attribute("data-role", "admin")
        expect(page.locator('#actions-body tr[data-action="setup"] .action-text')).to_have_text(
            "created the first admin, root")

        # The link is dead now, for anyone; the server's next start prints none.
        stranger = open_page(server=server)
        with stranger.expect_response(lambda r: "/setup" in r.url) as answer:
            stranger.goto(link)
        assert answer.value.status == 404
        expect(stranger.locator("h1")).to_have_text("Setup link not valid")
        expect(stranger.locator("#setup-form")).to_have_count(0)
        Screens(stranger, request.node.name + "-stranger")("link-refused")
        page.goto("/admin")
        expect(page.locator("#users-body tr[data-user]")).to_have_count(1)
        # Let the admin page's requests finish before the server goes away, or they are reset.
        for p in (page, stranger):
            p.wait_for_load_state("networkidle")
            p.goto("about:blank")
        server.stop()
        server.start()   # again, on the same data dir
        server.stop()
        assert any("Keras dashboard: http://" in line for line in server.lines()), server.lines()
        assert not any("No account yet" in line for line in server.lines()), server.lines()
    finally:
        server.close()


def test_an_admin_adds_a_user_disables_them_and_resets_their_password(open_page, live_server, request):
    admin = open_page("ada")
    screens = Screens(admin, request.node.name)
    admin.goto("/admin")
    users = admin.locator("#users-body")
    for name, (role, _) in USERS.items():
        expect(users.locator(f'tr[data-user="{name}"]')).to_have_attribute("data-role", role)
    # An admin cannot lock themself out.
    expect(users.locator('tr[data-user="ada"] .toggle-active')).to_be_disabled()
    expect(users.locator('tr[data-user="ada"] .role-select')).to_be_disabled()

    # A refusal shows next to the form, in the server's words.
    admin.locator("#new-name").fill("carol")
    admin.locator("#new-role").select_option("viewer")
    admin.locator("#new-password").fill("short")
    admin.locator("#add-user").click()
    expect(admin.locator("#add-user-error")).to_have_text("A password needs at least 8 characters.")
    expect(users.locator('tr[data-user="carol"]')).to_have_count(0)
    screens("add-refused")

    admin.locator("#new-password").fill("carol-password-1")
    admin.locator("#add-user").click()
    expect(admin.locator("#add-user-done")).to_have_text("Added carol (viewer).")
    expect(admin.locator("#add-user-error")).to_be_hidden()
    carol_row = users.locator('tr[data-user="carol"]')
    expect(carol_row).to_have_attribute("data-role", "viewer")
    expect(carol_row).to_have_attribute("data-active", "true")
    screens("added")

    carol = open_page()
    sign_in(carol, "carol", "carol-password-1")
    expect(carol.locator("#current-user .role")).to_have_text("viewer")
    # The builder checks its model once it loads: let that answer come before carol is disabled,
    # or it is refused (401) mid-flight, which the browser logs as an error.
    expect(carol.locator("#check-status")).to_contain_text("builds")

    # Disabled: her open session ends, and she cannot sign in again.
    carol_row.locator(".toggle-active").click()
    expect(carol_row).to_have_attribute("data-active", "false")
    expect(carol_row.locator(".state-off")).to_have_text("disabled")
    expect(admin.locator("#users-done")).to_have_text("carol can no longer sign in.")
    carol.reload()
    expect(carol.locator("#login-form")).to_be_visible()
    assert login_attempt(carol, "carol", "carol-password-1").status == 401
    expect(carol.locator("#login-error")).to_be_visible()
    screens("disabled")

    carol_row.locator(".toggle-active").click()
    expect(carol_row).to_have_attribute("data-active", "true")

    # Reset her password in the row's own small form; a refusal shows there.
    carol_row.locator(".reset-button").click()
    form = users.locator('tr.reset-row[data-user="carol"]')
    form.locator(".reset-password").fill("short")
    form.get_by_role("button", name="Set password").click()
    expect(form.locator(".reset-error")).to_have_text("A password needs at least 8 characters.")
    screens("reset-refused")
    form.locator(".reset-password").fill("carol-new-password")
    form.get_by_role("button", name="Set password").click()
    expect(admin.locator("#users-done")).to_have_text("The password of carol is changed.")
    expect(form).to_have_count(0)

    assert login_attempt(carol, "carol", "carol-password-1").status == 401
    assert login_attempt(carol, "carol", "carol-new-password").status == 302
    expect(carol.locator("#current-user")).to_contain_text("carol")

    # The recent actions tell who did all that.
    admin.locator("#actions-refresh").click()
    texts = admin.locator("#actions-body .action-text").all_inner_texts()
    for text in ("added the user carol (viewer)", "changed the user carol: disabled",
                 "changed the user carol: enabled", "changed the user carol: new password"):
        assert text in texts, texts
    expect(admin.locator('#actions-body tr[data-action="user.create"] td').nth(1)).to_contain_text("ada")
    screens("actions")

    # A script's token for carol, made with the CLI, is listed with its expiry and revoked from the page.
    token = live_server.cli("users", "token", "carol", "--days", "7", "--label", "carol-script").strip().splitlines()[-1]
    live_server.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    admin.reload()
    row = admin.locator('#tokens-body tr[data-user="carol"]')
    expect(row).to_have_count(1)
    expect(row.locator("td").nth(2)).to_have_text("carol-script")
    expect(row.locator(".expires")).not_to_have_text("never")
    row.get_by_role("button", name="Revoke").click()
    expect(admin.locator("#tokens-done")).to_contain_text("of carol is revoked.")
    expect(row).to_have_count(0)
    live_server.get("/api/me", expect=401, headers={"Authorization": f"Bearer {token}"})
    screens("token-revoked")
