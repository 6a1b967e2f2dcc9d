"""A sweep under the embedded executor: the warm spare serves its trials, the next one warmed during the current one.

RunService.schedule warms a spare only when a slot is free; with KD_MAX_CONCURRENT_RUNS=1 the next
trial then waited for a new spare's TensorFlow import (~5 s, bench/sweeps.py). The sweep scheduler
knows another trial is coming, so it warms the spare beside the running trial (RunService.expect_run).
"""

import pytest

from tests.conftest import signed_in
from tests.integration.runs_helpers import get
from tests.live import wait_until
from tests.specs import MLP, spec
from webapp.db.store import Run

pytestmark = pytest.mark.keras


def test_the_next_trial_trains_in_a_spare_warmed_while_the_previous_one_trained(tmp_path):
    from webapp import create_app

    app = create_app({"KD_DATA_DIR": str(tmp_path), "KD_WARM_SPARE": "1"})
    kd = app.extensions["kd"]
    client = signed_in(app)
    kd.runs.begin()   # as `python wsgi.py` does before it serves: the first spare, the sweep scheduler
    executor = kd.runs.executor
    try:
        body = {"name": "spare", "base": spec(MLP, fit={"epochs": 40, "batch_size": 64, "validation": "test"}),
                "space": {"model.layers.1.units": {"type": "int", "low": 16, "high": 32, "step": 16}},
                "objective": {"metric": "val_accuracy", "direction": "maximize"},
                "trials": 2, "parallel": 1, "sampler": "random", "pruner": "none"}
        r = client.post("/api/sweeps", json=body)
        assert r.status_code == 201, r.get_json()
        sweep_id = r.get_json()["sweep"]["id"]

        def trial_run(number):
            trials = client.get(f"/api/sweeps/{sweep_id}").get_json()["sweep"]["trials"]
            return next((t["run_id"] for t in trials if t["number"] == number and t["run_id"]), None)

        first = wait_until(lambda: trial_run(0), 120, "trial 0's run")

        def new_spare():
            """Give the spare once there is one beside trial 0's process, while trial 0 trains."""
            spare, trainer = executor._spare, executor._slots.get(first)
            return spare if trainer and spare and spare is not trainer and get(client, first)["status"] == "running" else None

        spare = wait_until(new_spare, 120, "a spare warming beside trial 0")
        # No need to watch 40 epochs of each: trial 0 is stopped (the sweep goes on), and trial 1 once it trains.
        assert client.post(f"/api/runs/{first}/stop").status_code == 202
        second = wait_until(lambda: trial_run(1), 240, "trial 1's run")
        run = wait_until(lambda: (r := get(client, second))["status"] != "queued" and r, 240, "trial 1 starting")
        assert run["status"] == "running", run["error"]

        def worker():
            """Give the run's `worker`, which its trainer writes as it begins (after the executor said running)."""
            with kd.store.session() as s:
                return s.get(Run, second).worker

        named = wait_until(worker, 120, "trial 1's trainer naming itself")
        assert named.endswith(f":{spare.process.pid}")   # that spare trains it
        assert client.post(f"/api/sweeps/{sweep_id}/stop").status_code == 202
        wait_until(lambda: client.get(f"/api/sweeps/{sweep_id}").get_json()["sweep"]["status"] == "stopped", 120,
                   "the sweep stopping")
    finally:
        kd.sweeps.shutdown()
        executor.shutdown()
