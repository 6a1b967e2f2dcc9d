"""What bench/sweeps.py measures with: bench sweeps, a Socket.IO watcher of a sweep and its runs, an RQ team, CPU clocks.

A sweep is watched, not polled: GET /api/sweeps/ID reads the whole study, and asked five times a
second it cost the web process more CPU than the scheduler did.
"""

import json
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from bench.measure import cpu_seconds, wait_idle
from tests.deployment import GunicornServer, RedisServer, db_upgrade, start_worker
from tests.live import ENDED, Viewer
from tests.specs import MLP, spec

ROOT = Path(__file__).resolve().parent.parent
SPACE = {"model.layers.1.units": {"type": "int", "low": 16, "high": 128, "step": 16, "log": False},
         "compile.optimizer.learning_rate": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True}}


def sweep_body(name, trials, parallel, epochs):
    """Give the POST /api/sweeps body of a bench sweep (random sampler, no pruner: every trial trains in full)."""
    return {"name": name, "base": spec(MLP, name=name, fit={"epochs": epochs, "batch_size": 64, "validation": "test"}),
            "space": SPACE, "objective": {"metric": "val_accuracy", "direction": "maximize"},
            "trials": trials, "parallel": parallel, "sampler": "random", "pruner": "none"}


class SweepWatcher(Viewer):
    """A Socket.IO client that watches a sweep and subscribes to each trial's run as its run_id is announced."""

    EVENTS = Viewer.EVENTS + ("sweep_history", "sweep_trial", "sweep_status")

    def __init__(self, server, runs=True):
        super().__init__(server.url, auth=server.auth, on_event=self._follow if runs else None)
        self.subscribed = set()

    def status(self):
        """Give the sweep's status as the last sweep_history or sweep_status said (None before either)."""
        said = self.named("sweep_history", "sweep_status")
        return said[-1]["status"] if said else None

    def _follow(self, name, data, _):
        """On the client's read loop: subscribe (without waiting for the ack) to every new trial run."""
        trials = data["trials"] if name == "sweep_history" else [data["trial"]] if name == "sweep_trial" else []
        for trial in trials:
            if trial["run_id"] and trial["run_id"] not in self.subscribed:
                self.subscribed.add(trial["run_id"])
                self.sio.emit("subscribe", {"run_id": trial["run_id"]}, namespace="/runs")

    def watch(self, sweep_id):
        """Subscribe to the sweep; give self."""
        assert self.sio.call("subscribe_sweep", {"sweep_id": sweep_id}, namespace="/runs", timeout=60)["ok"]
        return self

    def first_batch(self, run_id):
        """Give (time the run's first batch reached this client, its sent_at, whether the subscribe came late)."""
        for name, data, at in self.events:
            if data.get("run_id") != run_id:
                continue
            if name == "run_history" and data["progress"]:   # subscribed after the first batch: its sent_at
                return data["progress"]["sent_at"], data["progress"]["sent_at"], True
            if name == "run_batch":
                return at, data["sent_at"], False
        return None, None, False

    def ended(self, run_id):
        """Give the time the run's final run_status reached this client, or None (subscribed after it ended)."""
        return next((at for name, data, at in self.events
                     if name == "run_status" and data["run_id"] == run_id and data["status"] in ENDED), None)


def run_sweep(server, body, runs=False, timeout=3600):
    """POST a sweep, watch it over Socket.IO until its sweep_status says it ended (it must complete); give
    (seconds POST -> that event at the client, the sweep, the POST time, the watcher).

    runs: also subscribe to every trial's run (for its batches).
    """
    with SweepWatcher(server, runs) as watcher:
        t_post = time.time()
        sweep_id = server.post("/api/sweeps", json=body, expect=201).json()["sweep"]["id"]
        watcher.watch(sweep_id)
        watcher.wait(lambda w: w.status() not in ("running", "stopping"), timeout, f"the end of sweep {sweep_id}")
    took = next(at for name, data, at in watcher.events if name == "sweep_status" and data["status"] != "running") - t_post
    done = server.get(f"/api/sweeps/{sweep_id}").json()["sweep"]
    if done["status"] != "completed" or any(t["state"] != "complete" for t in done["trials"]):
        raise SystemExit(f"sweep {sweep_id} ended {done['status']}: {[(t['state'], t['error']) for t in done['trials']]}"
                         f"{server.output()}")
    return took, done, t_post, watcher


def plain_sweep(args, trials, epochs):
    """Run bench/sweep_baseline.py in a session of its own; give (its JSON, launch time)."""
    t_launch = time.time()
    cmd = [sys.executable, str(ROOT / "bench" / "sweep_baseline.py"), "--trials", str(trials), "--epochs",
           str(epochs), "--batch-size", "64", "--space", json.dumps(SPACE)]
    done = subprocess.run(cmd, capture_output=True, text=True, start_new_session=True)
    if done.returncode:
        raise SystemExit(f"the plain Optuna sweep failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1]), t_launch


class Team:
    """Redis, the database (upgraded by the CLI), one `make run` web instance with KD_EXECUTOR=rq, and workers."""

    def __init__(self, tmp):
        self.tmp, self.parts, self.workers = tmp, [], {}
        data = tmp / "rq-data"
        data.mkdir()
        self.redis = self.add(RedisServer(tmp / "redis.log"))
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("KD_")}
        self.env = {**inherited, "KD_EXECUTOR": "rq", "KD_REDIS_URL": self.redis.url, "KD_DATA_DIR": str(data),
                    "PYTHONUNBUFFERED": "1"}
        db_upgrade(self.env)
        self.web = self.add(GunicornServer(data, env=self.env, log_path=tmp / "web.log")).start().sign_in()

    def add(self, part):
        """Keep a part to close at the end; give it."""
        self.parts.append(part)
        return part

    def worker(self, name, cpu=None):
        """Start `flask --app wsgi worker --name NAME` (on one core of its own when `cpu` is given)."""
        self.workers[name] = self.add(start_worker(self.env, self.tmp / f"worker-{name}.log", name=name, cpus=cpu))

    def idle(self):
        """Wait until the web instance and every worker (and work-horse) use no CPU for a second."""
        wait_idle(self.web)
        for worker in self.workers.values():
            wait_idle(_Group(worker))

    def close(self):
        """Kill every part, the last started first."""
        for part in reversed(self.parts):
            part.close()


class _Group:
    """A worker Process seen as wait_idle sees a server: the processes of its session."""

    def __init__(self, process):
        self.process = process

    def group(self):
        """Give the worker's pid and its work-horse's."""
        return [self.process.pid, *self.process.children()]


def stamp(iso):
    """Give time.time() of an API timestamp (naive UTC, ISO 8601)."""
    return datetime.fromisoformat(iso).replace(tzinfo=timezone.utc).timestamp()


def cpu_with_children(pid):
    """Give the CPU seconds of process `pid` and of its children it has waited for (a worker's work-horses)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def team_cpu(team):
    """Give (CPU seconds of the web instance's processes, of the workers with their work-horses)."""
    return (sum(cpu_seconds(pid) for pid in team.web.group()),
            sum(cpu_with_children(w.pid) for w in team.workers.values()))
