"""Helpers for tests that train for real through Flask's test client: start a run, read it, wait for it.

A live server has the same as methods (tests/live.py: LiveServer.start_run, run, wait_run).
"""

from tests.live import ENDED, wait_for  # noqa: F401  (the tests wait with these)


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
