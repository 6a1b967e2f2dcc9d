"""Browser fixtures: the dashboard served as a user runs it, and real Chromium driven by Playwright.

The fixtures have their own names (live_server, chromium, browser_page) so pytest-playwright's
plugin, which would try to use a browser it downloads, stays out of the way.
"""

import json
import os
import re
import socket
import subprocess
import sys
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
# Chromium logs every non-2xx fetch as a console error. The pages show these contract answers to
# the user as messages, so exactly these (status, URL) pairs are expected, not failures: an invalid
# spec's 422 (model check, Train), a refused Stop or Continue (409 not now, 422 bad epochs), and a
# rejected upload's 400. Any other status on these URLs, and anything on other URLs, still fails.
FAILED_FETCH = re.compile(r"^Failed to load resource: the server responded with a status of (\d{3})\b")
EXPECTED_FAILURES = [
    ({"422"}, re.compile(r"/api/models/")),
    ({"422"}, re.compile(r"/api/runs$")),
    ({"409", "422"}, re.compile(r"/api/runs/\d+/(stop|continue)$")),
    ({"400"}, re.compile(r"/api/datasets$")),
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


def wait_until_up(url, process, seconds=60):
    """Wait until GET url answers 200; fail with the server's output if it exits or never answers."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            out = process.stdout.read() if process.stdout else ""
            pytest.fail(f"The server exited with {process.returncode}:\n{out}")
        try:
            if _get(url)[0] == 200:
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    pytest.fail(f"The server did not answer {url} within {seconds} s")


def warm_up(base_url):
    """Make the server import TensorFlow now (its first model check), so tests see normal latency."""
    body = json.dumps({"dataset": "digits", "model": {"layers": [{"type": "Flatten"}]}}).encode()
    request = urllib.request.Request(f"{base_url}/api/models/check", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=180) as response:
        assert response.status == 200


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    """Give the base URL of `python wsgi.py --port PORT` run from the repo root on a fresh data dir."""
    port = free_port()
    env = {**os.environ, "KD_DATA_DIR": str(tmp_path_factory.mktemp("kd-data")), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([sys.executable, "wsgi.py", "--port", str(port)], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base_url}/healthz", process)
        warm_up(base_url)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


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

    def __call__(self, step):
        """Save the whole page as <test>-<n>-<step>.png."""
        self.count += 1
        self.page.screenshot(path=str(SCREENSHOTS / f"{self.prefix}-{self.count:02d}-{step}.png"), full_page=True)


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


@pytest.fixture
def browser_page(chromium, live_server):
    """Give a fresh page (own storage) at 1400x1000; the test fails on any console or page error."""
    context = chromium.new_context(viewport={"width": 1400, "height": 1000}, base_url=live_server)
    page = context.new_page()
    problems = []

    def on_console(message):
        if message.type != "error":
            return
        url = (message.location or {}).get("url", "")
        if expected_failure(message.text, url):
            return
        problems.append(f"console error: {message.text} ({url})")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    yield page
    context.close()
    if problems:
        pytest.fail("The browser reported errors:\n" + "\n".join(problems))
