"""Helpers for tests that train for real: wait for a run to reach a status."""

import time

ENDED = ("completed", "stopped", "failed", "interrupted")


def get(client, run_id):
    """Give the run's JSON (GET /api/runs/ID must answer 200)."""
    r = client.get(f"/api/runs/{run_id}")
    assert r.status_code == 200
    return r.get_json()["run"]


def start(client, body):
    """Post a run spec (it must be accepted: 201) and give the new run's id."""
    r = client.post("/api/runs", json=body)
    assert r.status_code == 201, r.get_json()
    run = r.get_json()["run"]
    assert run["status"] in ("queued", "running")
    return run["id"]


def wait_for(get_run, statuses=ENDED, timeout=180.0, until=None):
    """Poll get_run() until its status is in `statuses` (and `until(run)` holds); give the run."""
    deadline = time.monotonic() + timeout
    run = get_run()
    while time.monotonic() < deadline:
        run = get_run()
        if run["status"] in statuses and (until is None or until(run)):
            return run
        time.sleep(0.1)
    raise AssertionError(f"run stayed {run['status']} (epochs_done={run.get('epochs_done')}) for {timeout} s: {run.get('error')}")
