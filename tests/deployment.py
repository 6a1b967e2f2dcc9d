"""A team deployment on loopback for tests and benches: redis-server, RQ workers, gunicorn, nginx.

Each part is a real process started the way docs/deploy.md says, in a session of its own, with
its output in a log file; `close()` SIGKILLs every process left in that session (a worker's
work-horse included: RQ puts it in a process group of its own, but not in a new session).
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.live import ROOT, LiveServer, ServerError, free_port, live_processes, wait_until

BIN = Path(sys.executable).parent


def session_pids(sid):
    """Give the live (not zombie) processes of session `sid`."""
    return [pid for pid, _, _, session in live_processes() if session == sid]


def kill_session(sid):
    """SIGKILL every process of session `sid`."""
    for pid in session_pids(sid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class Process:
    """One command in a session of its own, its output appended to `log_path`."""

    def __init__(self, command, env, log_path, cwd=ROOT):
        self.log_path = Path(log_path)
        with open(self.log_path, "a") as log:
            log.write(f"\n===== {' '.join(map(str, command))} =====\n")
            log.flush()
            self.process = subprocess.Popen([str(c) for c in command], cwd=cwd, env=env, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def pid(self):
        """Give the process id."""
        return self.process.pid

    def output(self, tail=6000):
        """Give the end of the log, for a failure message."""
        try:
            return f"\n--- {self.log_path.name} ---\n{self.log_path.read_text(errors='replace')[-tail:]}"
        except OSError:
            return ""

    def wait_for_output(self, text, timeout=60):
        """Wait until the log contains `text`; fail with the log otherwise."""
        deadline = time.monotonic() + timeout
        while text not in self.log_path.read_text(errors="replace"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise ServerError(f"No {text!r} (exit code {self.process.poll()}).{self.output()}")
            time.sleep(0.1)
        return self

    def children(self):
        """Give the other live processes of this one's session (a worker's work-horse)."""
        return [pid for pid in session_pids(self.pid) if pid != self.pid]

    def close(self):
        """Kill the whole session."""
        kill_session(self.pid)
        self.process.wait(timeout=10)


class RedisServer(Process):
    """redis-server on a free loopback port, without persistence."""

    def __init__(self, log_path, program="redis-server"):
        self.port = free_port()
        super().__init__([program, "--port", self.port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                         dict(os.environ), log_path)
        self.url = f"redis://127.0.0.1:{self.port}/0"
        import redis

        client = redis.Redis.from_url(self.url)
        wait_until(lambda: _pings(client), 20, f"redis-server answering PING{self.output()}")


def _pings(client):
    try:
        return client.ping()
    except Exception:
        return False


def start_worker(env, log_path, name="gpu0", cli="flask", cpus=None):
    """Start an RQ worker as docs/deploy.md does: `flask --app wsgi worker`, or `rq worker -w ...`.

    cpus: `taskset -c` them for the worker and its work-horses (bench/sweeps.py: a machine of its own each)."""
    if cli == "flask":
        command = [BIN / "flask", "--app", "wsgi", "worker", "--name", name]
    else:
        command = [BIN / "rq", "worker", "-w", "webapp.runs.rq_worker.RunWorker", "-u", env["KD_REDIS_URL"],
                   "--job-monitoring-interval", env.get("KD_WORKER_HEARTBEAT_S", "10"), "-n", name,
                   env.get("KD_RQ_QUEUE", "kd-runs")]
    if cpus is not None:
        command = ["taskset", "-c", str(cpus), *command]
    return Process(command, {**env, "CUDA_VISIBLE_DEVICES": "0"}, log_path).wait_for_output("Listening on")


def db_upgrade(env):
    """Run `flask --app wsgi db upgrade`; give what it printed."""
    done = subprocess.run([BIN / "flask", "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


class GunicornServer(LiveServer):
    """The dashboard under `make run`'s production command (gunicorn with webapp/web/server.py's settings)."""

    def __init__(self, data_dir, **options):
        super().__init__(data_dir, production=True, **options)

    def close(self):
        """Stop gunicorn and everything in its session."""
        super().close()
        if self.process:
            kill_session(self.process.pid)


def postgres_bin(name):
    """Give the path of a PostgreSQL server program (Debian keeps them off PATH), or None."""
    import glob
    import shutil

    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


class PostgresServer(Process):
    """A throwaway PostgreSQL cluster on a free loopback port (trust auth), with database `kd` owned
    by user `kd`, made with the createuser/createdb commands docs/deploy.md gives.

    PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres` user.
    """

    def __init__(self, log_path):
        import tempfile

        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="kd-pg-"))   # not under pytest's 0700 root-only dir
        as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if as_owner:
            subprocess.run(["chown", "postgres", self.dir], check=True)
        subprocess.run([*as_owner, postgres_bin("initdb"), "-D", self.dir / "db", "-A", "trust", "-U", "postgres"],
                       check=True, capture_output=True)
        super().__init__([*as_owner, postgres_bin("postgres"), "-D", self.dir / "db", "-p", self.port,
                          "-h", "127.0.0.1", "-k", self.dir], dict(os.environ), log_path)
        client = ["-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"]
        wait_until(lambda: subprocess.run([postgres_bin("pg_isready"), *client], capture_output=True).returncode == 0,
                   60, f"PostgreSQL accepting connections{self.output()}")
        subprocess.run(["createuser", *client, "kd"], check=True)
        subprocess.run(["createdb", *client, "-O", "kd", "kd"], check=True)
        self.url = f"postgresql+psycopg://kd@127.0.0.1:{self.port}/kd"

    def close(self):
        """Stop the server and remove the cluster."""
        import shutil

        super().close()
        shutil.rmtree(self.dir, ignore_errors=True)
