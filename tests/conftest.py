"""Shared fixtures: an app on a fresh data dir, its test client, headless Chromium, and `require` for system parts."""

import os
import shutil
from pathlib import Path

import pytest

from webapp.team import accounts
from webapp import create_app

REQUIRE_ALL = os.environ.get("KD_REQUIRE_ALL") == "1"


def require(condition, what):
    """Skip when a system part is missing, except in CI (KD_REQUIRE_ALL=1), where it fails."""
    if condition:
        return
    if REQUIRE_ALL:
        pytest.fail(f"{what} is missing and KD_REQUIRE_ALL=1: CI must install it (.ci/run).")
    pytest.skip(f"{what} is missing (CI installs it; here the test is skipped)")


def require_program(name):
    """Give the path of a program on PATH, or skip/fail as `require` says."""
    path = shutil.which(name)
    require(path, f"The program {name!r}")
    return path


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """Keep each test file on one pytest-xdist worker (`make test` runs two, `--dist loadgroup`), and
    every browser test on one: files share module fixtures, browser tests a session's live server."""
    for item in items:
        path = item.nodeid.split("::")[0]
        item.add_marker(pytest.mark.xdist_group("browser" if path.startswith("tests/browser/") else path))


@pytest.fixture
def app(tmp_path):
    """Give an app whose data (database, uploads, runs) lives in a fresh temporary directory.

    Afterwards its sweep scheduler stops: a sweep a test leaves running must not keep a thread
    polling beside the tests that follow."""
    app = create_app({"KD_DATA_DIR": str(tmp_path / "data"), "KD_WARM_SPARE": "0", "TESTING": True})
    yield app
    app.extensions["kd"].sweeps.shutdown()


def signed_in(app, name="admin", role="admin"):
    """Create an account and give a test client that sends its API token (as a script would)."""
    store = app.extensions["kd"].store
    user = accounts.find_user(store, name) or accounts.create_user(store, name, role, "password-of-" + name)
    client = app.test_client()
    client.token = accounts.new_api_token(store, user.id)
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {client.token}"
    return client


@pytest.fixture
def client(app):
    """Give a Flask test client signed in as an admin (API token)."""
    return signed_in(app)


@pytest.fixture
def services(app):
    """Give the app's services (store, datasets)."""
    return app.extensions["kd"]


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="session")
def chromium():
    """Give Debian's Chromium launched headless through Playwright's sync API (one per test session:
    Playwright's sync API allows one at a time, so browser/ and security/ tests share it)."""
    require(CHROMIUM.exists(), f"Chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
