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


def tiny_images(client, n_train=16, n_test=4):
    """Upload a few grey 8×8 images of two classes (bright top or bright bottom); give the dataset's id."""
    import io

    import numpy as np

    rng = np.random.default_rng(0)
    y = np.arange(n_train + n_test) % 2
    x = rng.integers(0, 60, (len(y), 8, 8)).astype(np.uint8)
    x[y == 0, :4] += 150
    x[y == 1, 4:] += 150
    buffer = io.BytesIO()
    np.savez(buffer, x_train=x[:n_train], y_train=y[:n_train], x_test=x[n_train:], y_test=y[n_train:])
    buffer.seek(0)
    r = client.post("/api/datasets", data={"file": (buffer, "halves.npz"), "name": "halves"},
                    content_type="multipart/form-data")
    assert r.status_code == 201, r.get_json()
    return r.get_json()["dataset"]["id"]
