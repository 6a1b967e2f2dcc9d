"""Browser fixtures: the dashboard served as a user runs it, and real Chromium driven by Playwright.

The fixtures have their own names (live_server, chromium, browser_page) so pytest-playwright's
plugin, which would try to use a browser it downloads, stays out of the way.

Every page needs a signed-in user, so the server starts with a small team made with the CLI, as
an admin would: ada (admin), bob (member) and vic (viewer). Pages sign in through the real login
form; scripts (the tests' own eyes on the server) send an API token made with `users token`.
"""

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import require

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
# The team every live server starts with: name -> (role, password).
USERS = {"ada": ("admin", "ada-password-1"), "bob": ("member", "bob-password-1"), "vic": ("viewer", "vic-password-1")}
OWNER = "bob"   # who a test's page and its API calls are, unless it says otherwise
# Chromium logs every non-2xx fetch as a console error. The pages show these contract answers to
# the user as messages, so exactly these (status, URL) pairs are expected, not failures: an invalid
# spec's 422 (model check, Train), a refused Stop or Continue (409 not now, 422 bad epochs, 403 a
# viewer's try), a rejected upload's 400, a wrong password's 401 on the login page, a dead setup
# link's 404, and the admin page's refused user changes (400: a short password, say). Any other
# status on these URLs, and anything on other URLs, still fails.
FAILED_FETCH = re.compile(r"^Failed to load resource: the server responded with a status of (\d{3})\b")
EXPECTED_FAILURES = [
    ({"422"}, re.compile(r"/api/models/")),
    ({"422"}, re.compile(r"/api/runs$")),
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


def free_port():
    """Give a TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url, timeout=2):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, response.read()


class LiveServer(str):
    """The base URL of a running `python wsgi.py` (a str, for f-strings and page base URLs).

    It also holds the server process, its data dir, every line it printed, and an API token per
    user of the team (empty for a server started without users).
    """

    def __new__(cls, url, process, data_dir, env):
        self = super().__new__(cls, url)
        self.process, self.data_dir, self.env = process, data_dir, env
        self.lines, self.tokens = [], {}
        # Read the output all the time: a full pipe would block the server's next log line.
        threading.Thread(target=self._drain, daemon=True).start()
        return self

    def _drain(self):
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def auth(self, name=OWNER):
        """Give the headers a script sends as `name`: Authorization: Bearer TOKEN."""
        return {"Authorization": f"Bearer {self.tokens[name]}"}

    def wait_for_line(self, pattern, seconds=60):
        """Give the first match of `pattern` in the server's output, waiting for it to be printed."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if match := re.search(pattern, line):
                    return match
            time.sleep(0.1)
        pytest.fail(f"The server never printed {pattern!r}; it printed:\n" + "\n".join(self.lines))

    def wait_until_up(self, seconds=60):
        """Wait until /healthz answers 200; fail with the server's output if it exits or never answers."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                time.sleep(0.3)   # let the reader take the last lines
                pytest.fail(f"The server exited with {self.process.returncode}:\n" + "\n".join(self.lines))
            try:
                if _get(f"{self}/healthz")[0] == 200:
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.2)
        pytest.fail(f"The server did not answer {self}/healthz within {seconds} s")

    def stop(self):
        """End the server process (and wait for it)."""
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def server_env(data_dir, keras_home):
    """Give the environment of a server or CLI on this data dir, with a Keras cache of its own."""
    # An empty KERAS_HOME: which keras.datasets are available never depends on the machine's cache.
    return {**os.environ, "KD_DATA_DIR": str(data_dir), "KERAS_HOME": str(keras_home), "PYTHONUNBUFFERED": "1"}


def flask_cli(env, *args):
    """Run `flask --app wsgi ARGS` from the repo root as an admin would; give what it printed."""
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, f"flask {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def create_team(env):
    """Create the USERS accounts with the CLI; give {name: API token}."""
    for name, (role, password) in USERS.items():
        flask_cli(env, "users", "create", name, "--role", role, "--password", password)
    return {name: flask_cli(env, "users", "token", name).strip().splitlines()[-1] for name in USERS}


def start_server(env):
    """Start `python wsgi.py --port PORT` from the repo root; give the LiveServer once it answers."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "wsgi.py", "--port", str(port)], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    server = LiveServer(f"http://127.0.0.1:{port}", process, Path(env["KD_DATA_DIR"]), env)
    try:
        server.wait_until_up()
    except BaseException:
        server.stop()
        raise
    return server


def warm_up(server):
    """Make the server import TensorFlow now (its first model check), so tests see normal latency."""
    body = json.dumps({"dataset": "digits", "model": {"layers": [{"type": "Flatten"}]}}).encode()
    request = urllib.request.Request(f"{server}/api/models/check", data=body,
                                     headers={"Content-Type": "application/json", **server.auth()})
    with urllib.request.urlopen(request, timeout=180) as response:
        assert response.status == 200


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    """Give the LiveServer of `python wsgi.py` on a fresh data dir whose team the CLI created."""
    env = server_env(tmp_path_factory.mktemp("kd-data"), tmp_path_factory.mktemp("keras-home"))
    tokens = create_team(env)
    server = start_server(env)
    server.tokens = tokens
    try:
        warm_up(server)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def chromium():
    """Give Debian's Chromium launched headless through Playwright's sync API."""
    require(CHROMIUM.exists(), f"Chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


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
        context = chromium.new_context(viewport={"width": 1400, "height": 1000}, base_url=server or live_server)
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
