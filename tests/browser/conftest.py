"""Browser fixtures: the dashboard served as a user runs it, and real Chromium driven by Playwright.

The fixtures have their own names (live_server, chromium, browser_page) so pytest-playwright's
plugin, which would try to use a browser it downloads, stays out of the way. The server is
tests/live.py's LiveServer, as in the integration tests and the benches.

Every page needs a signed-in user, so the server starts with a small team made with the CLI, as
an admin would: ada (admin), bob (member) and vic (viewer). Pages sign in through the real login
form; scripts (the tests' own eyes on the server) send an API token made with `users token`.
"""

import re
import urllib.parse
from pathlib import Path

import pytest

from tests.live import LiveServer

SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
# The team every live server starts with: name -> (role, password).
USERS = {"ada": ("admin", "ada-password-1"), "bob": ("member", "bob-password-1"), "vic": ("viewer", "vic-password-1")}
OWNER = "bob"   # who a test's page and its API calls are, unless it says otherwise
# Chromium logs every non-2xx fetch as a console error. The pages show these contract answers to
# the user as messages, so exactly these (status, URL) pairs are expected, not failures: an invalid
# spec's 422 (model check, Train, Start sweep), a refused Stop or Continue (409 not now, 422 bad epochs, 403 a
# viewer's try), a rejected upload's 400, a wrong password's 401 on the login page, a dead setup
# link's 404, and the admin page's refused user changes (400: a short password, say). Any other
# status on these URLs, and anything on other URLs, still fails.
FAILED_FETCH = re.compile(r"^Failed to load resource: the server responded with a status of (\d{3})\b")
EXPECTED_FAILURES = [
    ({"422"}, re.compile(r"/api/models/")),
    ({"422"}, re.compile(r"/api/runs$")),
    ({"422"}, re.compile(r"/api/sweeps$")),
    ({"403", "409", "422"}, re.compile(r"/api/runs/\d+/(stop|continue)$")),
    ({"400"}, re.compile(r"/api/datasets$")),
    ({"401"}, re.compile(r"^/login$")),
    ({"404"}, re.compile(r"^/setup$")),
    ({"400"}, re.compile(r"^/api/users(/\d+)?$")),
]

pytestmark = pytest.mark.browser


@pytest.fixture(scope="session", autouse=True)
def _patient_expect():
    """Give every expect() 10 s: two shared cores can make a model check slow (never a result)."""
    from playwright.sync_api import expect

    expect.set_options(timeout=10_000)


def new_server(tmp_path_factory, name="kd-data", production=False, **settings):
    """Give a LiveServer (tests/live.py), not started yet, on a fresh data dir with `settings`
    (`production`: `make run`'s gunicorn, not `python wsgi.py`).

    Its Keras cache is an empty folder of its own: which keras.datasets are available never
    depends on the machine's cache.
    """
    return LiveServer(tmp_path_factory.mktemp(name), env={"KERAS_HOME": str(tmp_path_factory.mktemp("keras-home")),
                                                          **settings}, production=production)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    """Give the LiveServer of `make run`'s production server (gunicorn) on a fresh data dir whose team
    the CLI created; its own requests go as the OWNER, `headers(name)` gives another user's."""
    server = new_server(tmp_path_factory, production=True)
    for name, (role, password) in USERS.items():
        server.add_user(name, role, password)
    server.use_token(server.tokens[OWNER])
    try:
        server.start()
        # The first model check imports TensorFlow in the server: now, so tests see normal latency.
        server.post("/api/models/check", json={"dataset": "digits", "model": {"layers": [{"type": "Flatten"}]}},
                    expect=200)
        yield server
    finally:
        server.close()


class Screens:
    """Saves numbered screenshots of a test's key steps under tests/browser/screenshots/."""

    def __init__(self, page, test_name):
        self.page = page
        self.prefix = re.sub(r"[^A-Za-z0-9_-]+", "_", test_name)
        self.count = 0
        SCREENSHOTS.mkdir(exist_ok=True)

    def __call__(self, step, page=None):
        """Save the whole page (the test's own, or `page`) as <test>-<n>-<step>.png."""
        self.count += 1
        (page or self.page).screenshot(path=str(SCREENSHOTS / f"{self.prefix}-{self.count:02d}-{step}.png"),
                                       full_page=True)


@pytest.fixture
def screens(browser_page, request):
    """Give a function that saves a screenshot of the test's page: screens("step-name")."""
    return Screens(browser_page, request.node.name)


def expected_failure(text, url):
    """Tell whether a console error is one of the expected failed fetches (see EXPECTED_FAILURES)."""
    failed = FAILED_FETCH.match(text)
    path = urllib.parse.urlsplit(url).path
    return bool(failed) and any(failed.group(1) in statuses and where.search(path)
                                for statuses, where in EXPECTED_FAILURES)


def sign_in(page, name, password=None):
    """Sign in through the login form as `name` (password from USERS) and wait for the signed-in page."""
    from playwright.sync_api import expect

    page.goto("/login")
    page.locator("#login-name").fill(name)
    page.locator("#login-password").fill(password or USERS[name][1])
    page.locator("#login-submit").click()
    expect(page.locator("#current-user")).to_contain_text(name)


@pytest.fixture
def open_page(chromium, live_server):
    """Give open_page(user=None, server=live_server): a page in a browser context of its own, signed
    in as `user` (None: nobody). The test fails on any console or page error of any page it opened."""
    contexts, problems = [], []

    def opener(user=None, server=None):
        context = chromium.new_context(viewport={"width": 1400, "height": 1000}, base_url=str(server or live_server))
        contexts.append(context)
        page = context.new_page()
        who = user or "nobody"

        def on_console(message):
            if message.type != "error":
                return
            url = (message.location or {}).get("url", "")
            if not expected_failure(message.text, url):
                problems.append(f"console error ({who}): {message.text} ({url})")

        page.on("console", on_console)
        page.on("pageerror", lambda exc: problems.append(f"page error ({who}): {exc}"))
        if user:
            sign_in(page, user)
        return page

    yield opener
    for context in contexts:
        context.close()
    if problems:
        pytest.fail("The browser reported errors:\n" + "\n".join(problems))


@pytest.fixture
def browser_page(open_page):
    """Give a fresh page (own storage) at 1400x1000 signed in as the member bob."""
    return open_page(OWNER)


def watch_dialogs(page):
    """Give the list of dialogs (alert, confirm, prompt) the page opens; each is dismissed so the page goes on."""
    opened = []

    def on_dialog(dialog):
        opened.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    return opened


@pytest.fixture
def no_dialogs(browser_page):
    """Fail the test if any alert, confirm or prompt opens on browser_page (an injected script would open one)."""
    opened = watch_dialogs(browser_page)
    yield
    assert opened == [], f"dialogs opened: {opened}"
