"""A sweep under KD_EXECUTOR=rq for real: redis-server, two RQ workers, and a web instance killed halfway.

The parts are test_rq.py's Team (each a process started as docs/deploy.md says, on one data dir and
one SQLite database). The sweep's scheduler holds a lease on it in the database
(sweeps/service.py LEASE_S); a new instance on the same database and Redis takes it over once the
killed one's lease lapses, and finishes the sweep from the study and the runs table alone.
"""

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import require_program
from tests.deployment import db_upgrade
from tests.integration.test_rq import Team
from tests.live import wait_until
from tests.specs import MLP, spec
from webapp.db.store import Sweep
from webapp.sweeps import space

pytestmark = pytest.mark.keras
TRIALS = 6
SWEEP = {
    "name": "rq-sweep",
    "base": spec(MLP, name="rq-sweep", fit={"epochs": 2, "batch_size": 64, "validation": "test"}),
    "space": {"model.layers.1.units": {"type": "int", "low": 16, "high": 64, "step": 16},
              "compile.optimizer.learning_rate": {"type": "float", "low": 1e-3, "high": 3e-2, "log": True}},
    "objective": {"metric": "val_accuracy", "direction": "maximize"},
    "trials": TRIALS, "parallel": 2,
}
ENDED_TRIAL = ("complete", "pruned", "failed", "stopped")


@pytest.fixture(scope="module")
def team(tmp_path_factory):
    """Give a Team (Redis, SQLite upgraded by the CLI) with two workers, gpu0 and gpu1, started side by side."""
    require_program("redis-server")
    team = Team(tmp_path_factory.mktemp("sweeps-rq"), "sqlite")
    try:
        assert "revision none -> " in db_upgrade(team.env)
        with ThreadPoolExecutor(2) as pool:   # each loads the whole app: seconds apiece
            list(pool.map(team.worker, ("gpu0", "gpu1")))
        yield team
    finally:
        team.close()


def sweep_of(server, sweep_id):
    """Give GET /api/sweeps/ID's sweep."""
    return server.get(f"/api/sweeps/{sweep_id}").json()["sweep"]


def once(server, sweep_id, condition):
    """Give a condition for wait_until: the sweep, once condition(sweep) holds."""
    def check():
        sweep = sweep_of(server, sweep_id)
        return sweep if condition(sweep) else None
    return check


def ended_trials(sweep):
    """Give the number of a sweep's trials that have ended."""
    return sum(t["state"] in ENDED_TRIAL for t in sweep["trials"])


def without_name(run_spec):
    """Give a spec without its name (a trial's run is named after its sweep and number)."""
    return {k: v for k, v in run_spec.items() if k != "name"}


def test_a_sweep_spreads_over_two_workers_and_outlives_the_instance_that_started_it(team):
    a = team.web("a")
    sweep_id = a.post("/api/sweeps", json=SWEEP, expect=201).json()["sweep"]["id"]

    # Halfway: two trials have ended, so some trials' runs exist and others do not yet.
    at_kill = wait_until(once(a, sweep_id, lambda s: ended_trials(s) >= 2), 240,
                         lambda: f"two trials ending{a.output()}", poll=0.2)
    a.kill()
    started_by_a = sum(t["run_id"] is not None for t in at_kill["trials"])
    assert started_by_a < TRIALS, at_kill["trials"]

    b = team.web("b")   # the same database and Redis; it takes the sweep over once a's lease lapses
    sweep = wait_until(once(b, sweep_id, lambda s: s["status"] not in ("running", "stopping")), 300,
                       lambda: f"the sweep ending under b: {sweep_of(b, sweep_id)}{b.output()}", poll=0.5)
    assert sweep["status"] == "completed", sweep["error"]
    trials = sorted(sweep["trials"], key=lambda t: t["number"])
    assert [t["number"] for t in trials] == list(range(TRIALS))
    assert all(t["state"] in ("complete", "pruned") for t in trials), [(t["number"], t["state"], t["error"])
                                                                      for t in trials]
    with team.store().session() as s:   # b's scheduler held the sweep last (host:pid:nonce)
        assert s.get(Sweep, sweep_id).lease.split(":")[1] == str(b.pid)

    # Each trial has exactly one run, and that run trained exactly the trial's values.
    runs = [r for r in b.get("/api/runs").json()["runs"] if (r["sweep"] or {}).get("id") == sweep_id]
    assert sorted(r["sweep"]["trial"] for r in runs) == list(range(TRIALS))
    workers = set()
    for trial in trials:
        run = b.run(trial["run_id"])
        assert run["sweep"] == {"id": sweep_id, "trial": trial["number"]}
        assert run["status"] in ("completed", "stopped"), run["error"]
        assert set(trial["params"]) == set(SWEEP["space"])
        for path, value in trial["params"].items():
            assert space.get(run["spec"], path) == value, (trial["number"], path)
        assert without_name(run["spec"]) == without_name(space.apply(sweep["base"], trial["params"]))
        workers.add(run["worker"].split("@", 1)[0])   # NAME@HOST:PID under RQ
    assert workers == {"gpu0", "gpu1"}
    print(f"{started_by_a} of {TRIALS} trials started before the kill; runs trained by {sorted(workers)}")


def test_a_run_event_from_a_worker_wakes_the_sweep_scheduler_at_once():
    # Under RQ the web instance's scheduler hears of a trial's end only through Socket.IO's message
    # queue: another process's run event is handed to it as it is delivered (no Redis call here).
    import socketio

    from webapp.web.message_queue import manager

    heard = []
    queue = manager("redis://127.0.0.1:1/0", "kd-test", on_event=heard.append)
    socketio.Server(client_manager=queue)
    event = {"run_id": 7, "seq": 3, "status": "completed", "error": None}
    queue._handle_emit({"method": "emit", "event": "run_status", "data": event, "namespace": "/runs",
                        "room": "run:7", "host_id": "a-worker"})
    queue._handle_emit({"method": "emit", "event": "run_status", "data": event, "namespace": "/runs",
                        "room": "run:7", "host_id": queue.host_id})   # its own: its service told it already
    assert heard == [("run_status", event)]
