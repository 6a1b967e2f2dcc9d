"""A sweep trained for real: six trials of digits, two at a time, watched through a real Socket.IO client.

Each trial is an ordinary run trained with exactly its sampled values (read back from its saved
model), the best is the highest, Optuna's importance is shared between the searched fields, the
stream tells of every trial, and stop and resume work on a live sweep.
"""

import ast
import csv
import io
import math
import re

import pytest

from tests.live import LiveServer, Viewer, wait_until
from tests.specs import MLP, spec
from webapp.runs import paths
from webapp.sweeps import space

pytestmark = pytest.mark.keras
SPACE = {"model.layers.1.units": {"type": "int", "low": 8, "high": 64, "step": 8},
         "compile.optimizer.learning_rate": {"type": "float", "low": 1e-3, "high": 1e-1, "log": True}}
SWEEP = {"name": "digits search", "base": spec(MLP, fit={"epochs": 2, "batch_size": 64, "validation": "test"}),
         "space": SPACE, "objective": {"metric": "val_accuracy", "direction": "maximize"},
         "trials": 6, "parallel": 2, "sampler": "tpe", "pruner": "median"}
ENDED = ("completed", "stopped", "failed")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = LiveServer(tmp_path_factory.mktemp("sweeps") / "data", env={"KD_MAX_CONCURRENT_RUNS": "2"}).start().sign_in()
    yield live
    live.close()


def sweep_of(server, sweep_id):
    return server.get(f"/api/sweeps/{sweep_id}").json()["sweep"]


def wait_status(server, sweep_id, statuses=ENDED, timeout=240):
    wait_until(lambda: sweep_of(server, sweep_id)["status"] in statuses, timeout, f"sweep {sweep_id} in {statuses}", 0.5)
    return sweep_of(server, sweep_id)


def test_a_sweep_trains_each_trial_with_its_values_and_tells_of_every_trial(server):
    with Viewer(server.url, auth=server.auth) as viewer:
        sweep = server.post("/api/sweeps", json=SWEEP, expect=201).json()["sweep"]
        assert viewer.subscribe_sweep(sweep["id"]) == {"ok": True}
        viewer.wait(lambda v: any(d["status"] == "completed" for d in v.named("sweep_status")), 300, "the sweep's end")
        got = wait_status(server, sweep["id"])

    assert got["status"] == "completed" and len(got["trials"]) == 6
    assert {t["state"] for t in got["trials"]} <= {"complete", "pruned"}
    assert [t["number"] for t in got["trials"]] == list(range(6))
    from webapp.modelspec.build import init_keras

    keras = init_keras()
    for trial in got["trials"]:
        run = server.run(trial["run_id"])
        assert run["sweep"] == {"id": sweep["id"], "trial": trial["number"]}
        assert f'href="/sweeps/{sweep["id"]}"' in server.get(f"/runs/{run['id']}").text   # the run page leads back
        for path, value in trial["params"].items():
            assert space.get(run["spec"], path) == value, (path, trial)
        model = keras.saving.load_model(paths.artifact(server.data_dir, run["id"], paths.MODEL))
        assert model.layers[1].units == trial["params"]["model.layers.1.units"]
        assert math.isclose(float(model.optimizer.learning_rate), trial["params"]["compile.optimizer.learning_rate"],
                            rel_tol=1e-5)
        if trial["state"] == "complete":
            assert trial["value"] == run["history"]["val_accuracy"][-1] and run["epochs_done"] == 2
        else:
            assert run["status"] == "stopped" and run["epochs_done"] < 2
    complete = [t for t in got["trials"] if t["state"] == "complete"]
    assert got["best"]["value"] == max(t["value"] for t in complete)
    assert got["best"]["run_id"] == next(t["run_id"] for t in complete if t["value"] == got["best"]["value"])
    assert set(got["importance"]) == set(SPACE) and math.isclose(sum(got["importance"].values()), 1, abs_tol=0.01)

    # The stream: sweep_history first, then seqs rising; every trial's final state arrived.
    names = [name for name, _, _ in viewer.events if name.startswith("sweep_")]
    assert names[0] == "sweep_history"
    seqs = [d["seq"] for name, d, _ in viewer.events if name in ("sweep_trial", "sweep_status")]
    assert seqs == sorted(set(seqs))
    last = {d["trial"]["number"]: d["trial"] for d in viewer.named("sweep_trial")}
    assert {n: t["state"] for n, t in last.items()} == {t["number"]: t["state"] for t in got["trials"]}
    assert any(len(d["trial"]["curve"]) == 1 for d in viewer.named("sweep_trial"))   # epoch values as they came

    rows = list(csv.reader(io.StringIO(server.get(f"/api/sweeps/{sweep['id']}/artifacts/trials.csv").text)))
    assert rows[0] == ["number", "state", "val_accuracy", "run_id", *SPACE] and len(rows) == 7
    script = server.get(f"/api/sweeps/{sweep['id']}/artifacts/sweep.py")   # run for real in test_sweep_exports.py
    assert "attachment" in script.headers["Content-Disposition"]
    ast.parse(script.text)
    for path, field in SPACE.items():
        assert re.search(rf"suggest_{field['type']}\([\"']{re.escape(path)}[\"']", script.text), path

    # Stop and resume: resumed with 4 more, stopped once one of them trains; nothing new starts after.
    server.post(f"/api/sweeps/{sweep['id']}/resume", json={"trials": 4}, expect=202)
    wait_until(lambda: any(t["state"] == "running" for t in sweep_of(server, sweep["id"])["trials"][6:]), 120,
               "a resumed trial training", 0.2)
    server.post(f"/api/sweeps/{sweep['id']}/stop", expect=202)
    stopped = wait_status(server, sweep["id"])
    assert stopped["status"] == "stopped" and 7 <= len(stopped["trials"]) <= 8
    assert not {t["state"] for t in stopped["trials"]} & {"queued", "running"}
    server.post(f"/api/sweeps/{sweep['id']}/resume", json={"trials": 1}, expect=202)
    again = wait_status(server, sweep["id"])
    assert again["status"] == "completed" and len(again["trials"]) == len(stopped["trials"]) + 1
    assert again["trials"][-1]["state"] in ("complete", "pruned")
