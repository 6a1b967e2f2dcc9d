"""KD_EXECUTOR=rq for real: redis-server, RQ workers, two web instances (python wsgi.py and gunicorn).

Every part is a process started as docs/deploy.md says, on one data dir (the shared storage) and
one SQLite database; each test gets its own Redis. Runs are small MLPs on digits.
"""

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import require, require_program
from tests.deployment import GunicornServer, PostgresServer, RedisServer, db_upgrade, postgres_bin, start_worker
from tests.live import ROOT, LiveServer, Viewer, ended, wait_until
from tests.specs import MLP, spec
from webapp.db.store import Run, Store

pytestmark = pytest.mark.keras
SHORT = spec(MLP, name="rq-short", fit={"epochs": 2, "batch_size": 64, "validation": "test"})
# Small batches: an epoch lasts about a second on two cores, long enough to act mid-run.
LONG = spec(MLP, name="rq-long", fit={"epochs": 40, "batch_size": 8, "validation": "test"})


class Team:
    """The parts of one deployment in a test: Redis, the database, web instances, workers."""

    def __init__(self, tmp_path, database):
        self.tmp, self.parts, self.token = tmp_path, [], None
        self.data = tmp_path / "data"
        self.data.mkdir()
        db = {}
        if database == "postgresql":
            require(postgres_bin("initdb"), "PostgreSQL (Debian's postgresql package)")
            db = {"KD_DATABASE_URL": self.add(PostgresServer(tmp_path / "postgres.log")).url}
        redis = self.add(RedisServer(tmp_path / "redis.log"))
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("KD_")}
        self.env = {**inherited, "KD_EXECUTOR": "rq", "KD_REDIS_URL": redis.url, "KD_DATA_DIR": str(self.data),
                    "KD_WORKER_HEARTBEAT_S": "1", "PYTHONUNBUFFERED": "1", **db}

    def add(self, part):
        """Keep a part to close at the end; give it."""
        self.parts.append(part)
        return part

    def worker(self, name="gpu0", cli="flask", **env):
        """Start a worker (`flask --app wsgi worker`, or `rq worker` with cli="rq")."""
        return self.add(start_worker({**self.env, **env}, self.tmp / f"worker-{name}.log", name=name, cli=cli))

    def web(self, name="a", gunicorn=False, **env):
        """Start a web instance, signed in with the team's admin token (made on the first one)."""
        kind = GunicornServer if gunicorn else LiveServer
        part = self.add(kind(self.data, env={**self.env, **env}, log_path=self.tmp / f"web-{name}.log")).start()
        if self.token is None:
            self.token = part.sign_in().token
        part.use_token(self.token)
        return part

    def start(self, *starts):
        """Call each part's start side by side (each loads the whole app: seconds apiece); give the parts in order."""
        with ThreadPoolExecutor(len(starts)) as pool:
            return [future.result() for future in [pool.submit(start) for start in starts]]

    def store(self):
        """Give a Store on the team's database."""
        return Store(self.env.get("KD_DATABASE_URL") or f"sqlite:///{self.data / 'dashboard.db'}")

    def close(self):
        """Kill every part, the last started first."""
        for part in reversed(self.parts):
            part.close()


@pytest.fixture
def team(tmp_path, request):
    """Give a Team on SQLite (or PostgreSQL, when parametrized so), its schema made by `flask --app wsgi db upgrade`."""
    require_program("redis-server")
    team = Team(tmp_path, getattr(request, "param", "sqlite"))
    try:
        assert "revision none -> " in db_upgrade(team.env)
        yield team
    finally:
        team.close()


def horse_pid(team, run_id):
    """Give the pid of the work-horse training a run (the trainer stores WORKER@host:pid)."""
    with team.store().session() as s:
        return int(s.get(Run, run_id).worker.rsplit(":", 1)[1])


def live_events(viewer, run_id):
    """Give the events a viewer got after run_history, checking none was lost: seqs follow last_seq by one."""
    mine = [(name, data) for name, data, _ in viewer.events if data["run_id"] == run_id]
    assert mine[0][0] == "run_history", mine[:2]
    after = [(n, d) for n, d in mine[1:] if d["seq"] > mine[0][1]["last_seq"]]
    first = mine[0][1]["last_seq"] + 1
    assert [d["seq"] for _, d in after] == list(range(first, first + len(after))), [d["seq"] for _, d in after]
    return mine[0][1], after


def test_two_instances_stream_a_run_that_a_worker_trains(team):
    gpu0, a = team.start(team.worker, lambda: team.web("a"))
    b = team.web("b", gunicorn=True)
    # The worker spawns its next work-horse ahead (KD_WARM_SPARE): it imports TensorFlow while nothing is queued.
    spare = wait_until(lambda: gpu0.children(), 30, "the worker's spare work-horse")
    with Viewer(b.url, auth=b.auth) as on_b, Viewer(a.url, auth=a.auth) as on_a:
        run_id = a.start_run(SHORT)                         # started through A ...
        assert a.run(run_id)["status"] == "queued"       # ... it waits until a worker takes it
        assert on_b.subscribe(run_id)["ok"] and on_a.subscribe(run_id)["ok"]
        for viewer in (on_b, on_a):                      # ... and B's viewer sees it live
            viewer.wait(ended(), timeout=180, what="the end of the run")
    run = b.run(run_id)
    assert run["status"] == "completed", run["error"]
    assert run["epochs_done"] == 2 and set(run["artifacts"]) >= {"model.keras", "model.json", "history.csv"}
    assert run["worker"].startswith("gpu0@")                 # the run says which worker trained it
    for viewer in (on_b, on_a):
        history, after = live_events(viewer, run_id)
        statuses = [d["status"] for n, d in after if n == "run_status"]
        assert statuses[-1] == "completed" and (history["status"] == "running" or "running" in statuses)
        epochs = history["epochs_done"], [d["epoch"] for n, d in after if n == "run_epoch"]
        assert list(range(1, epochs[0] + 1)) + epochs[1] == [1, 2]
        assert after[-1][1]["seq"] == run["last_seq"]
    # The spare spawned before the run was posted trained it (RQ's work-horse, handed the job).
    horse = horse_pid(team, run_id)
    assert spare == [horse], (spare, horse)
    # One process per run: that work-horse is gone, a new spare waits, and the worker itself never loaded TensorFlow.
    wait_until(lambda: horse not in gpu0.children(), 30, "the work-horse exiting")
    assert len(gpu0.children()) == 1
    maps = open(f"/proc/{gpu0.pid}/maps").read()
    assert "tensorflow" not in maps and "_pywrap" not in maps
    # An export rides the same queue (the new spare builds it); its end reaches the run's room on the other instance.
    with Viewer(b.url, auth=b.auth) as on_b:
        assert on_b.subscribe(run_id)["ok"]
        export = a.post(f"/api/runs/{run_id}/exports", json={"format": "onnx"}, expect=202).json()["export"]
        on_b.wait(lambda v: v.named("run_export"), timeout=180, what="run_export")
    event = on_b.named("run_export")[0]
    assert event["run_id"] == run_id and event["export"]["id"] == export["id"]
    assert event["export"]["state"] == "ready" and event["export"]["agreement"] == 1.0, event["export"]["error"]
    assert a.get(f"/api/runs/{run_id}/exports").json()["exports"] == [event["export"]]
    assert "tensorflow" not in open(f"/proc/{gpu0.pid}/maps").read()


# On PostgreSQL, the production database (every other test here runs on SQLite).
@pytest.mark.parametrize("team", ["postgresql"], indirect=True)
def test_stop_while_queued_and_while_running_then_continue(team):
    a = team.web()
    first, second = a.start_run(LONG), a.start_run(SHORT)   # no worker yet: both wait, in order
    assert [a.run(first)["queue_position"], a.run(second)["queue_position"]] == [1, 2]
    a.post(f"/api/runs/{second}/stop", expect=202)
    assert a.run(second)["status"] == "stopped"
    team.worker(cli="rq")                             # `rq worker -w webapp.runs.rq_worker.RunWorker ...`
    a.wait_run(first, lambda r: r["status"] == "running" and r["epochs_done"] >= 1)
    assert a.post(f"/api/runs/{first}/stop", expect=202).json()["run"]["status"] == "stopping"
    run = a.wait_run(first, lambda r: r["status"] not in ("running", "stopping"))
    assert run["status"] == "stopped" and run["error"] is None and 1 <= run["epochs_done"] < 40
    assert "model.keras" in run["artifacts"]
    done = run["epochs_done"]
    a.post(f"/api/runs/{first}/continue", json={"epochs": 1}, expect=202)
    run = a.wait_run(first, lambda r: r["status"] not in ("queued", "running"))
    assert run["status"] == "completed" and run["epochs_done"] == done + 1, run["error"]
    # The stopped queued run's job was taken by the worker too, and did nothing.
    assert a.run(second)["status"] == "stopped" and a.run(second)["started_at"] is None


def test_a_run_that_ignores_stop_is_killed_with_rqs_stop_job(team):
    _, a = team.start(team.worker, lambda: team.web(KD_STOP_GRACE_S="0.01"))
    run_id = a.start_run(LONG)
    a.wait_run(run_id, lambda r: r["status"] == "running" and r["epochs_done"] >= 1)
    a.post(f"/api/runs/{run_id}/stop", expect=202)
    run = a.wait_run(run_id, lambda r: r["status"] not in ("running", "stopping"))
    assert run["status"] == "stopped" and "did not stop within 0.01 s" in run["error"]
    assert "model.keras" in run["artifacts"]


def test_sigkill_of_the_work_horse_fails_the_run_and_the_worker_goes_on(team):
    gpu0, a = team.start(lambda: team.worker(KD_WARM_SPARE="0"), team.web)   # RQ's own spawn of each work-horse
    run_id = a.start_run(LONG)
    a.wait_run(run_id, lambda r: r["status"] == "running" and r["epochs_done"] >= 1)
    os.kill(horse_pid(team, run_id), signal.SIGKILL)
    run = a.wait_run(run_id, lambda r: r["status"] != "running", timeout=30)
    assert run["status"] == "failed" and "killed by signal 9" in run["error"], run["error"]
    done = run["epochs_done"]
    a.post(f"/api/runs/{run_id}/continue", json={"epochs": 1}, expect=202)
    run = a.wait_run(run_id, lambda r: r["status"] not in ("queued", "running"))
    assert run["status"] == "completed" and run["epochs_done"] == done + 1, run["error"]
    assert gpu0.process.poll() is None
    wait_until(lambda: not gpu0.children(), 30, "the work-horse exiting")   # and no spare kept


def test_a_dead_worker_is_detected(team):
    # The worker alone is killed: its work-horse notices within half a second and fails the run.
    a, gpu0 = team.start(team.web, lambda: team.worker("gpu0"))
    run_id = a.start_run(LONG)
    a.wait_run(run_id, lambda r: r["status"] == "running" and r["epochs_done"] >= 1)
    os.kill(gpu0.pid, signal.SIGKILL)
    run = a.wait_run(run_id, lambda r: r["status"] != "running", timeout=30)
    assert run["status"] == "failed" and "worker supervising this run died" in run["error"], run["error"]
    wait_until(lambda: not gpu0.children(), 30, "the orphaned work-horse and the unused spare exiting")

    # The worker and its work-horse die together (the machine is gone): RQ's heartbeat lapses
    # (3 beats of KD_WORKER_HEARTBEAT_S=1) and the web's watchdog fails the run.
    gpu1 = team.worker("gpu1")
    # Its spare work-horse dies while it waits (the OOM killer): the job gets a work-horse of RQ's own spawn.
    dead_spare = wait_until(lambda: gpu1.children(), 30, "gpu1's spare work-horse")[0]
    os.kill(dead_spare, signal.SIGKILL)
    a.post(f"/api/runs/{run_id}/continue", json={"epochs": 40}, expect=202)
    a.wait_run(run_id, lambda r: r["status"] == "running" and r["progress"])
    assert horse_pid(team, run_id) != dead_spare
    wait_until(lambda: len(gpu1.children()) == 2, 30, "a new spare beside the work-horse")
    gpu1.close()
    killed = time.monotonic()
    run = a.wait_run(run_id, lambda r: r["status"] != "running", timeout=60)
    assert run["status"] == "failed" and "stopped answering" in run["error"], run["error"]
    print(f"a dead machine's run failed {time.monotonic() - killed:.1f} s after the kill")


def test_the_worker_process_never_imports_tensorflow(team):
    # The worker only spawns work-horses; TensorFlow, with its threads and GPU memory, is theirs alone.
    code = (
        "import sys\n"
        "from webapp import create_app\n"
        "from webapp.runs import rq_worker\n"
        "app = create_app()\n"
        "assert app.test_cli_runner().invoke(args=['worker', '--burst']).exit_code == 0\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=team.env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_the_worker_emits_to_the_rooms_the_web_layer_serves():
    from webapp.runs import rq_shared
    from webapp.web import events

    assert rq_shared.NAMESPACE == events.NAMESPACE and rq_shared.room(7) == events.room(7)

