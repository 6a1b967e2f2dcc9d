"""A live dashboard for tests and benches, as a user starts it, on one data dir: `make run`'s production
server (gunicorn, `production=True`) or the development server `python wsgi.py --port N`.

LiveServer starts the server as a subprocess from the repo root, waits for GET /healthz, stops it
(SIGTERM, then SIGKILL) or kills it outright, and starts it again on the same data dir and port.
Everything the server prints goes to one log file, so a failing test can show it. The server runs
in a session of its own: its trainer processes are in the same process group, and `close()` ends
whatever of that group is left, so no test leaves TensorFlow running on the machine. The
integration tests, the browser tests (tests/browser/conftest.py) and the benches all use it.

`wait_until` and `wait_for` are the one way a test waits for a condition or a run's status, for a
live server and for Flask's test client alike (tests/integration/runs_helpers.py).

Viewer is a python-socketio client on /runs that records the run events it receives in the order
the server sent them.
"""

import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import engineio
import requests
import socketio

ROOT = Path(__file__).resolve().parent.parent
NAMESPACE = "/runs"
STATUSES = ("queued", "running", "stopping", "completed", "stopped", "failed", "interrupted")
ENDED = ("completed", "stopped", "failed", "interrupted")
_PORTS = random.Random()   # its own: a test seeding `random` must not make two draws alike


def free_port():
    """Give a TCP port nothing listens on right now, from 20000-32767 (below Linux's ephemeral range,
    which outgoing connections draw from).

    Under pytest-xdist each worker takes only ports that are its own modulo the number of workers:
    a port one worker found free and has not bound yet is never handed to the other. (Not bind(0)'s
    choice: Linux gives it odd ports only.)"""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    mine = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0")[2:])
    while True:
        port = _PORTS.randrange(20000 + mine, 32768, workers)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port


def make_run_command():
    """Give the command `make run` serves with, read from the Makefile (its `$(PY)` is this interpreter)."""
    recipe = (ROOT / "Makefile").read_text().split("\nrun:", 1)[1].split("\n")[1]
    return [sys.executable if word == "$(PY)" else word for word in recipe.split()]


class ServerError(AssertionError):
    """The server did not start or stop as expected; the message ends with its output."""


def live_processes():
    """Give (pid, ppid, process group, session) of every live (not zombie) process, read from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z":   # state, ppid, pgrp, session
                found.append((int(entry.name), int(fields[1]), int(fields[2]), int(fields[3])))
    return found


def wait_until(condition, timeout, what, poll=0.1):
    """Poll condition() until it gives a true value and give that value; after `timeout` s fail with
    `what` (a sentence, or a function giving one, asked only then)."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(what() if callable(what) else f"{what} did not happen within {timeout} s")
        time.sleep(poll)
    return value


def wait_for(get_run, statuses=ENDED, timeout=180.0, until=None, explain=lambda: "", poll=0.1):
    """Poll get_run() until its status is in `statuses` (and `until(run)` holds); give the run.

    explain(): more to say when it fails (a live server's output)."""
    last = {}

    def reached():
        run = last["run"] = get_run()
        return run if run["status"] in statuses and (until is None or until(run)) else None

    return wait_until(reached, timeout, lambda: (
        f"run {last['run']['id']} stayed {last['run']['status']} (epochs_done={last['run'].get('epochs_done')}) "
        f"for {timeout} s: {last['run'].get('error')}{explain()}"), poll)


class LiveServer:
    """One dashboard server process on `data_dir` (see the module docstring).

    env: settings (KD_WARM_SPARE, KD_STOP_GRACE_S, ...); KD_* variables of the calling process are
    not passed on, so a developer's KD_DATABASE_URL never reaches a test server. KD_DATA_DIR is `data_dir`.
    log_path: where the server's output goes (default: DATA_DIR_NAME-server.log beside the data dir).
    token: an API token sent as `Authorization: Bearer` with every request (or call sign_in()).
    production: serve with `make run`'s command (gunicorn) instead of `python wsgi.py`.
    str(server) is its base URL, so f"{server}/api/runs" reads as a URL does.
    """

    def __init__(self, data_dir, env=None, log_path=None, port=None, token=None, production=False):
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("KD_")}
        self.env = {**inherited, **(env or {}), "KD_DATA_DIR": str(self.data_dir), "PYTHONUNBUFFERED": "1"}
        self.log_path = Path(log_path or self.data_dir.parent / f"{self.data_dir.name}-server.log")
        self.port = port or free_port()
        self.production = production
        self.process = None
        self.http = requests.Session()
        self.token = None
        self.tokens = {}   # an API token per user name, for headers(name)
        if token:
            self.use_token(token)

    def __str__(self):
        return self.url

    def use_token(self, token):
        """Send `Authorization: Bearer TOKEN` with every request from now on."""
        self.token = token
        self.http.headers["Authorization"] = f"Bearer {token}"

    def headers(self, user=None):
        """Give the headers a script sends as `user` (one of `tokens`; None: the token in use)."""
        return {"Authorization": f"Bearer {self.tokens[user] if user else self.token}"}

    @property
    def auth(self):
        """Give the Socket.IO auth payload for a Viewer: {"token": ...} once signed in, else None."""
        return {"token": self.token} if self.token else None

    def cli(self, *args):
        """Run `flask --app wsgi ARGS` on this server's settings; give its output (fail with it on an error)."""
        done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=self.env,
                              capture_output=True, text=True, timeout=120)
        if done.returncode:
            raise ServerError(f"flask {' '.join(args)} exited with {done.returncode}:\n{done.stdout}{done.stderr}")
        return done.stdout

    def sign_in(self, name="admin", role="admin", password=None):
        """Create a user with the contract's CLI and use an API token of theirs from now on; give self."""
        self.use_token(self.add_user(name, role, password))
        return self

    def add_user(self, name, role, password=None):
        """Create a user with the contract's CLI; keep and give an API token of theirs (see headers)."""
        self.cli("users", "create", name, "--role", role, "--password", password or secrets.token_urlsafe(16))
        self.tokens[name] = self.cli("users", "token", name).strip().splitlines()[-1]
        return self.tokens[name]

    @property
    def url(self):
        """Give the base URL, e.g. http://127.0.0.1:5123."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self):
        """Give the server's process id (None before the first start)."""
        return self.process.pid if self.process else None

    def start(self, timeout=120):
        """Start the server and wait until GET /healthz answers 200; give self."""
        if self.process and self.process.poll() is None:
            raise ServerError(f"The server is already running (pid {self.pid}).")
        with open(self.log_path, "a") as log:
            log.write(f"\n===== start on port {self.port}, {time.strftime('%H:%M:%S')} =====\n")
            log.flush()
            command = make_run_command() if self.production else [sys.executable, "wsgi.py", "--port", str(self.port)]
            self.process = subprocess.Popen(command, cwd=ROOT, env={**self.env, "KD_PORT": str(self.port)}, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerError(f"The server exited with code {self.process.returncode}.{self.output()}")
            try:
                if self.http.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise ServerError(f"The server did not answer /healthz within {timeout} s.{self.output()}")

    def stop(self, sig=signal.SIGTERM, timeout=15):
        """Send `sig` to the server alone (not its children), SIGKILL it after `timeout` s; give its exit code."""
        if not self.process or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def kill(self):
        """SIGKILL the server alone, as a crash or the OOM killer would; give its exit code."""
        return self.stop(signal.SIGKILL)

    def restart(self, sig=signal.SIGTERM, timeout=120):
        """Stop the server with `sig` and start a new one on the same data dir and port; give self."""
        self.stop(sig)
        return self.start(timeout)

    def group(self):
        """Give the ids of live (not zombie) processes in the server's process group, the server included."""
        if not self.process:
            return []
        return [pid for pid, _, group, _ in live_processes() if group == self.process.pid]

    def close(self):
        """Stop the server and end every process of its group that is still there (trainers too)."""
        self.stop()
        for pid in self.group():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.http.close()

    def output(self, tail=6000):
        """Give the end of everything the server printed, as text for a failure message."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return f"\n--- server output ({self.log_path}) ---\n{text[-tail:]}"

    def lines(self):
        """Give the lines the server printed since its last start."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return []
        return text.rsplit("\n===== start on port", 1)[-1].splitlines()[1:]

    def wait_for_line(self, pattern, timeout=60):
        """Give the first match of the regular expression `pattern` in what the server printed since it started."""
        return wait_until(lambda: next(filter(None, (re.search(pattern, line) for line in self.lines())), None),
                          timeout, lambda: f"The server never printed {pattern!r}.{self.output()}")

    # -- HTTP helpers: a failing status says what the server printed ----------------------------

    def get(self, path, expect=200, **kwargs):
        """GET a path; assert the status is `expect`; give the response."""
        return self._check(self.http.get(self.url + path, timeout=60, **kwargs), expect)

    def post(self, path, json=None, expect=None, **kwargs):
        """POST JSON (or `data`/`files`) to a path; assert the status when `expect` is given."""
        return self._check(self.http.post(self.url + path, json=json, timeout=180, **kwargs), expect)

    def run(self, run_id):
        """Give GET /api/runs/ID's run object."""
        return self.get(f"/api/runs/{run_id}").json()["run"]

    def start_run(self, body, user=None):
        """POST a run spec as `user` (None: the token in use); it must be accepted (201); give the run's id."""
        headers = self.headers(user) if user else {}
        return self.post("/api/runs", json=body, expect=201, headers=headers).json()["run"]["id"]

    def wait_run(self, run_id, until, timeout=180, poll=0.1):
        """Poll the run until `until(run)` holds, or until its status is one of `until` when that is a
        collection of statuses; give the run, or fail with its state and the server output."""
        statuses, check = (STATUSES, until) if callable(until) else (tuple(until), None)
        return wait_for(lambda: self.run(run_id), statuses, timeout, check, self.output, poll)

    def _check(self, response, expect):
        if expect is not None and response.status_code != expect:
            raise ServerError(f"{response.request.method} {response.url} answered {response.status_code}, "
                              f"not {expect}: {response.text[:2000]}{self.output()}")
        return response


class _InOrderEngineIO(engineio.Client):
    """Engine.IO client that hands each message to Socket.IO on its read loop, in the order it came."""

    def _trigger_event(self, event, *args, **kwargs):
        if event == "message":
            kwargs["run_async"] = False
        return super()._trigger_event(event, *args, **kwargs)


class InOrderClient(socketio.Client):
    """python-socketio's Client, except that event handlers run one by one in arrival order.

    The stock client runs every handler on a thread of its own, so the order handlers run in is not
    the order the server sent; a test of ordering needs the wire order. Handlers must not block.
    """

    def _engineio_client_class(self):
        return _InOrderEngineIO


class Viewer:
    """A Socket.IO client on /runs that records every run event it receives: (name, data, time.time()).

    transport: "websocket" or "polling". auth: the Socket.IO auth payload, when the server wants one.
    on_event(name, data, received_at): also called for each event, on the client's read loop (keep it quick).
    """

    EVENTS = ("run_history", "run_status", "run_batch", "run_epoch", "run_dynamics", "run_export", "sweep_history", "sweep_trial",
              "sweep_status")

    def __init__(self, url, transport="websocket", auth=None, on_event=None):
        self.url, self.transport, self.auth, self.on_event = url, transport, auth, on_event
        self.events = []
        self._changed = threading.Condition()
        self.sio = InOrderClient(reconnection=False)
        for name in self.EVENTS:
            self.sio.on(name, self._recorder(name), namespace=NAMESPACE)

    def _recorder(self, name):
        def record(data):
            received_at = time.time()
            with self._changed:
                self.events.append((name, data, received_at))
                self._changed.notify_all()
            if self.on_event:
                self.on_event(name, data, received_at)
        return record

    def connect(self):
        """Connect to the server's /runs namespace; give self."""
        self.sio.connect(self.url, namespaces=[NAMESPACE], transports=[self.transport], auth=self.auth,
                         wait_timeout=30)
        return self

    def disconnect(self):
        """Close the connection (nothing happens when it is closed already)."""
        self.sio.disconnect()

    def subscribe(self, run_id):
        """Send `subscribe` and give the server's acknowledgement ({"ok": ...})."""
        return self.sio.call("subscribe", {"run_id": run_id}, namespace=NAMESPACE, timeout=60)

    def subscribe_sweep(self, sweep_id):
        """Send `subscribe_sweep` and give the server's acknowledgement ({"ok": ...})."""
        return self.sio.call("subscribe_sweep", {"sweep_id": sweep_id}, namespace=NAMESPACE, timeout=60)

    def named(self, *names):
        """Give the data of the recorded events with these names, in arrival order."""
        with self._changed:
            return [data for name, data, _ in self.events if name in names]

    def wait(self, condition, timeout=180, what="the events"):
        """Wait until condition(viewer) holds; give the events so far, or fail saying what was seen."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not condition(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(name, data.get("seq"), data.get("status") or data.get("epoch"))
                            for name, data, _ in self.events]
                    raise AssertionError(f"No {what} within {timeout} s; received (event, seq, status/epoch): {seen}")
                self._changed.wait(min(left, 0.5))
            return list(self.events)

    def __enter__(self):
        return self.connect()

    def __exit__(self, *exc):
        self.disconnect()


def ended(statuses=("completed", "stopped", "failed", "interrupted")):
    """Give a Viewer condition: a run_status with one of `statuses` arrived."""
    return lambda viewer: any(d["status"] in statuses for d in viewer.named("run_status"))
