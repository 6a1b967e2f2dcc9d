"""A sweep's share link opens that sweep and its trials' runs, read-only, and nothing else; revoked, nothing.

Over HTTP (the page, the sweep, its trials.csv, a trial's run and its dataset's test images) and over
Socket.IO (subscribe_sweep, subscribe to a trial's run); never another sweep, another run, or a change.
"""

from sqlalchemy import select

from tests.conftest import signed_in
from tests.security.conftest import a_run, socket
from tests.specs import MLP, spec
from webapp.db.store import Run

SWEEP = {"base": spec(MLP, fit={"epochs": 1, "batch_size": 64, "validation": "test"}),
         "space": {"model.layers.1.units": {"type": "int", "low": 8, "high": 16}},
         "objective": {"metric": "val_accuracy", "direction": "maximize"}, "trials": 1}


def test_a_sweep_link_opens_the_sweep_and_its_trials_read_only_and_nothing_more(app):
    app.extensions["kd"].runs.max_concurrent = 0   # trials stay queued: nothing trains here
    owner = signed_in(app, "owner", "member")
    mine = owner.post("/api/sweeps", json=SWEEP).get_json()["sweep"]["id"]
    other = owner.post("/api/sweeps", json=SWEEP).get_json()["sweep"]["id"]
    app.extensions["kd"].sweeps.tick()
    with app.extensions["kd"].store.session() as s:
        trial_run = s.scalar(select(Run.id).where(Run.sweep_id == mine))
    lone_run = a_run(app, "owner")
    token = owner.post(f"/api/sweeps/{mine}/shares").get_json()["share"]["token"]
    visitor = app.test_client()
    opens = [f"/sweeps/{mine}", f"/api/sweeps/{mine}", f"/api/sweeps/{mine}/artifacts/trials.csv",
             f"/api/runs/{trial_run}", f"/runs/{trial_run}", "/api/datasets/digits/images/test/0.png"]
    for path in opens:
        assert visitor.get(f"{path}?share={token}").status_code == 200, path
    closed = [("GET", f"/api/sweeps/{other}"), ("GET", f"/sweeps/{other}"), ("GET", f"/api/runs/{lone_run}"),
              ("GET", "/api/sweeps"), ("GET", "/api/datasets/digits/images/train/0.png"),
              ("POST", f"/api/sweeps/{mine}/stop"), ("POST", f"/api/sweeps/{mine}/shares"),
              ("POST", f"/api/runs/{trial_run}/stop")]
    for method, path in closed:
        assert visitor.open(f"{path}?share={token}", method=method).status_code in (302, 401), (method, path)

    viewer = socket(app, share=token)
    assert viewer.is_connected("/runs")
    assert viewer.emit("subscribe_sweep", {"sweep_id": mine}, namespace="/runs", callback=True) == {"ok": True}
    assert viewer.emit("subscribe_sweep", {"sweep_id": other}, namespace="/runs", callback=True)["ok"] is False
    assert viewer.emit("subscribe", {"run_id": trial_run}, namespace="/runs", callback=True) == {"ok": True}
    assert viewer.emit("subscribe", {"run_id": lone_run}, namespace="/runs", callback=True)["ok"] is False
    assert "sweep_history" in [e["name"] for e in viewer.get_received("/runs")]

    assert owner.delete(f"/api/sweeps/{mine}/shares/{token}").status_code == 204
    assert not viewer.is_connected("/runs")                     # its live streams close at once
    for path in opens:
        assert visitor.get(f"{path}?share={token}").status_code in (302, 401), path
    assert not socket(app, share=token).is_connected("/runs")
