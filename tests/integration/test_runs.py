"""Real training through the embedded executor: spawned processes, the journal, the artifacts."""

import pytest

from tests.integration.runs_helpers import wait_for
from tests.specs import MLP, spec
from webapp.store import RunEvent


def get(client, run_id):
    r = client.get(f"/api/runs/{run_id}")
    assert r.status_code == 200
    return r.get_json()["run"]


def start(client, body):
    r = client.post("/api/runs", json=body)
    assert r.status_code == 201, r.get_json()
    run = r.get_json()["run"]
    assert run["status"] in ("queued", "running")
    return run["id"]


def test_run_completes_with_keras_history_and_loadable_artifacts(client, services):
    run_id = start(client, spec(MLP, name="mlp <b>", fit={"epochs": 2, "batch_size": 64}))
    run = wait_for(lambda: get(client, run_id))
    assert run["status"] == "completed", run["error"]
    assert run["epochs_done"] == 2 and run["name"] == "mlp <b>"
    assert set(run["history"]) == {"loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"}
    assert all(len(v) == 2 for v in run["history"].values())
    assert set(run["artifacts"]) >= {"model.keras", "model.json", "history.csv"}
    r = client.get(f"/api/runs/{run_id}/artifacts/model.keras")
    assert r.status_code == 200 and "attachment" in r.headers["Content-Disposition"]

    from webapp.spec.build import init_keras
    keras = init_keras()
    model = keras.saving.load_model(services.data_dir / "runs" / str(run_id) / "model.keras")
    assert model.count_params() == run["summary"]["total_params"]
    assert model.optimizer.iterations.numpy() == 2 * 23   # 1437 samples / 64 per batch, twice

    csv = client.get(f"/api/runs/{run_id}/artifacts/history.csv").get_data(as_text=True).splitlines()
    assert csv[0].startswith("epoch,") and len(csv) == 3

    with services.store.session() as s:
        events = s.query(RunEvent).filter_by(run_id=run_id).order_by(RunEvent.seq).all()
    kinds = [e.kind for e in events]
    assert kinds[0] == "run_status" and kinds.count("run_epoch") == 2
    assert [e.payload["status"] for e in events if e.kind == "run_status"] == ["queued", "running", "completed"]
    assert [e.payload["epoch"] for e in events if e.kind == "run_epoch"] == [1, 2]
    assert [e.seq for e in events if e.kind != "run_batch"] == sorted(e.seq for e in events if e.kind != "run_batch")


def test_invalid_spec_is_422_and_stores_nothing(client):
    r = client.post("/api/runs", json=spec(MLP, model={"layers": [{"type": "Dense", "units": 0}]}))
    assert r.status_code == 422
    assert r.get_json()["errors"][0]["field"] == "units"
    assert client.get("/api/runs").get_json()["runs"] == []


def test_unknown_run_is_404(client):
    assert client.get("/api/runs/999").status_code == 404
    assert client.post("/api/runs/999/stop").status_code == 404
    assert client.get("/api/runs/999/artifacts/model.keras").status_code == 404
