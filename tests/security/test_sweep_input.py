"""A bad sweep gets a 422 naming the field, and leaves nothing behind: no sweep, no study, no run.

What a sweep can cost is bounded before anything is made: its number of trials (KD_MAX_TRIALS), the
size of a grid, and its largest trial (the space's corners are checked as a run would be: a space
whose biggest model passes KD_MAX_PARAMS is refused, not its first unlucky trial).
"""

import copy

import optuna
import pytest

from tests.specs import MLP, spec
from webapp import create_app
from webapp.db.store import Run, Sweep
from webapp.sweeps import study
from tests.conftest import signed_in

BASE = spec(MLP, fit={"epochs": 1, "batch_size": 64, "validation": "test"})
GOOD = {"name": "s", "base": BASE, "space": {"model.layers.1.units": {"type": "int", "low": 8, "high": 32}},
        "objective": {"metric": "val_accuracy", "direction": "maximize"}, "trials": 2, "parallel": 1}
UNITS = "space.model.layers.1.units"


def changed(**parts):
    body = copy.deepcopy(GOOD)
    body.update(parts)
    return body


def units(**field):
    return changed(space={"model.layers.1.units": field})


CASES = [
    ("a path not in the spec", changed(space={"model.layers.9.units": {"type": "int", "low": 1, "high": 2}}),
     "space.model.layers.9.units"),
    ("a layer argument the layer lacks", changed(space={"model.layers.1.filters": {"type": "int", "low": 1, "high": 2}}),
     "space.model.layers.1.filters"),
    ("what a layer is, not a number", changed(space={"model.layers.1.type": {"type": "categorical", "choices": ["Dense"]}}),
     "space.model.layers.1.type"),
    ("a top-level field", changed(space={"dataset": {"type": "categorical", "choices": ["digits"]}}), "space.dataset"),
    ("low above high", units(type="int", low=64, high=8), UNITS),
    ("an empty list of choices", units(type="categorical", choices=[]), UNITS),
    ("a log range that reaches 0", changed(space={"compile.optimizer.learning_rate":
                                                  {"type": "float", "low": 0, "high": 0.1, "log": True}}),
     "space.compile.optimizer.learning_rate"),
    ("a float range for a whole number", units(type="float", low=8.5, high=32), UNITS),
    ("an unknown field type", units(type="uniform", low=8, high=32), UNITS),
    ("an objective the run does not log", changed(objective={"metric": "val_auc", "direction": "maximize"}),
     "objective.metric"),
    ("an unknown direction", changed(objective={"metric": "val_loss", "direction": "down"}), "objective.direction"),
    ("an unknown sampler", changed(sampler="bayes"), "sampler"),
    ("an unknown pruner", changed(pruner="sometimes"), "pruner"),
    ("more trials than KD_MAX_TRIALS", changed(trials=201), "trials"),
    ("no trials", changed(trials=0), "trials"),
    ("a grid over a continuous range", changed(sampler="grid", space={"compile.optimizer.learning_rate":
                                                                      {"type": "float", "low": 0.001, "high": 0.1}}),
     "space.compile.optimizer.learning_rate"),
    ("a grid of a billion points", changed(sampler="grid", space={
        f"model.layers.{i}.units": {"type": "int", "low": 1, "high": 1000} for i in (1, 3)} | {
        "fit.batch_size": {"type": "int", "low": 1, "high": 1000}}), "sampler"),
    ("an empty space", changed(space={}), "space"),
    ("a space that is not an object", changed(space=["units"]), "space"),
    ("a largest trial past KD_MAX_PARAMS", units(type="int", low=8, high=1_000_000), UNITS),
    ("a choice that breaks the model", changed(space={"model.layers.3.units": {"type": "categorical",
                                                                                "choices": [10, 3]}}),
     "space.model.layers.3.units"),
    ("an unknown field of the sweep", changed(seed=3), "seed"),
]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    app = create_app({"KD_DATA_DIR": str(tmp_path_factory.mktemp("sweeps")), "KD_WARM_SPARE": "0",
                      "KD_MAX_CONCURRENT_RUNS": "0", "KD_MAX_PARAMS": "2000000", "TESTING": True})
    yield app
    app.extensions["kd"].sweeps.shutdown()


def nothing_made(app):
    kd = app.extensions["kd"]
    with kd.store.session() as s:
        assert s.query(Sweep).count() == 0 and s.query(Run).count() == 0
    assert optuna.get_all_study_names(study.storage(kd.sweeps.url)) == []


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_a_bad_sweep_is_422_naming_the_field_and_makes_nothing(app, case):
    name, body, field = case
    r = signed_in(app).post("/api/sweeps", json=body)
    assert r.status_code == 422, (name, r.status_code, r.get_data(as_text=True)[:300])
    assert field in [e["field"] for e in r.get_json()["errors"]], r.get_json()
    nothing_made(app)


def test_resume_past_kd_max_trials_is_422_and_changes_nothing(tmp_path):
    app = create_app({"KD_DATA_DIR": str(tmp_path), "KD_WARM_SPARE": "0", "KD_MAX_CONCURRENT_RUNS": "0",
                      "KD_MAX_TRIALS": "3", "TESTING": True})
    app.extensions["kd"].sweeps.shutdown()   # its passes are made here, one at a time
    client = signed_in(app)
    sweep = client.post("/api/sweeps", json=changed(trials=2)).get_json()["sweep"]
    app.extensions["kd"].sweeps.tick()   # its first trial is asked (parallel 1: only that one)
    client.post(f"/api/sweeps/{sweep['id']}/stop")
    app.extensions["kd"].sweeps.tick()
    assert client.get(f"/api/sweeps/{sweep['id']}").get_json()["sweep"]["status"] == "stopped"
    for trials in (3, 0, "1", None, True):   # one trial was asked before the stop: 2 more make 3
        r = client.post(f"/api/sweeps/{sweep['id']}/resume", json={"trials": trials})
        assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "trials", (trials, r.get_json())
    assert client.get(f"/api/sweeps/{sweep['id']}").get_json()["sweep"]["status"] == "stopped"
    assert client.post(f"/api/sweeps/{sweep['id']}/resume", json={"trials": 1}).status_code == 202
    assert client.post(f"/api/sweeps/{sweep['id']}/resume", json={"trials": 1}).status_code == 409   # running
    assert client.get("/api/sweeps/999999").status_code == 404
    assert client.get(f"/api/sweeps/{sweep['id']}/artifacts/model.keras").status_code == 404
