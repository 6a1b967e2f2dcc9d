"""The sweep scheduler's decisions, pass by pass, on a real database, Optuna study and run service.

Nothing trains here (KD_MAX_CONCURRENT_RUNS=0 keeps every run queued): each test plays a trainer's
part through the journal (running, an epoch's logs, completed...) and calls `tick()`, so what the
scheduler must do at each step (report, prune, tell, ask, stop, take over) is checked exactly.
"""

import math

import optuna
import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from tests.specs import MLP, spec
from webapp import create_app
from webapp.db.store import Run, Sweep
from webapp.team import accounts
from webapp.runs import journal
from webapp.sweeps import space, study
from webapp.sweeps.scheduler import LEASE_S
from webapp.sweeps.service import SweepService

BASE = spec(MLP, fit={"epochs": 3, "batch_size": 64, "validation": "test"})
UNITS = {"model.layers.1.units": {"type": "int", "low": 8, "high": 64, "step": 8}}


@pytest.fixture
def kd(tmp_path):
    app = create_app({"KD_DATA_DIR": str(tmp_path / "data"), "KD_WARM_SPARE": "0", "KD_MAX_CONCURRENT_RUNS": "0",
                      "TESTING": True})
    app.extensions["kd"].sweeps.shutdown()   # no scheduler thread: each test makes the passes itself
    return app.extensions["kd"]


def sweep_of(kd, owner_id=None, **changes):
    body = {"name": "s", "base": BASE, "space": UNITS, "objective": {"metric": "val_accuracy", "direction": "maximize"},
            "trials": 4, "parallel": 2, "sampler": "random", "pruner": "median", **changes}
    return kd.sweeps.create(body, owner_id=owner_id)


def runs_of(kd, sweep_id):
    with kd.store.session() as s:
        return {r.sweep_trial: r for r in s.scalars(select(Run).where(Run.sweep_id == sweep_id))}


def train(kd, run_id, values, end="completed"):
    """Play a trainer: running, one epoch per value of val_accuracy, then `end` (None: still running)."""
    journal.set_status(kd.store, run_id, "running")
    with kd.store.session() as s:
        done = s.get(Run, run_id).epochs_done
    for epoch, value in enumerate(values, done + 1):
        journal.add_epoch(kd.store, run_id, epoch, {"loss": 1.0, "val_accuracy": value})
    if end:
        journal.set_status(kd.store, run_id, end)


def trials(kd, sweep_id):
    return {t["number"]: t for t in kd.sweeps.get(sweep_id)["trials"]}


def test_trials_are_runs_of_their_sampled_values_and_at_most_parallel_run_at_once(kd):
    sweep_id = sweep_of(kd)
    kd.sweeps.tick()
    runs = runs_of(kd, sweep_id)
    assert sorted(runs) == [0, 1]                       # parallel 2 of 4 planned
    for number, trial in trials(kd, sweep_id).items():
        assert trial["state"] == "queued" and trial["run_id"] == runs[number].id
        assert space.get(runs[number].spec, "model.layers.1.units") == trial["params"]["model.layers.1.units"]
    train(kd, runs[0].id, [0.5, 0.6, 0.7])
    kd.sweeps.tick()
    assert sorted(runs_of(kd, sweep_id)) == [0, 1, 2]   # one ended, one more asked
    first = trials(kd, sweep_id)[0]
    assert (first["state"], first["value"], first["curve"]) == ("complete", 0.7, [0.5, 0.6, 0.7])
    for number in (1, 2):
        train(kd, runs_of(kd, sweep_id)[number].id, [0.5, 0.6, 0.8])
    kd.sweeps.tick()
    train(kd, runs_of(kd, sweep_id)[3].id, [0.1, 0.2, 0.3])
    kd.sweeps.tick()
    got = kd.sweeps.get(sweep_id)
    assert got["status"] == "completed" and [t["state"] for t in got["trials"]] == ["complete"] * 4
    assert got["best"]["value"] == 0.8 and got["best"]["number"] in (1, 2)


def test_the_pruner_stops_a_lagging_trial_after_an_epoch_but_never_at_its_last(kd):
    sweep_id = sweep_of(kd, trials=6, parallel=1)
    for _ in range(5):   # Optuna's median pruner waits for 5 complete trials
        kd.sweeps.tick()
        run = runs_of(kd, sweep_id)[max(runs_of(kd, sweep_id))]
        train(kd, run.id, [0.8, 0.85, 0.9 - 0.01 * len(runs_of(kd, sweep_id))])
    kd.sweeps.tick()
    lagging = runs_of(kd, sweep_id)[5]
    train(kd, lagging.id, [0.1], end=None)
    kd.sweeps.tick()
    with kd.store.session() as s:
        assert s.get(Run, lagging.id).status == "stopping"      # stopped like any run: after its batch
    journal.set_status(kd.store, lagging.id, "stopped")
    kd.sweeps.tick()
    got = kd.sweeps.get(sweep_id)
    assert got["trials"][5]["state"] == "pruned" and got["trials"][5]["curve"] == [0.1]
    assert got["status"] == "completed" and set(got["importance"]) == set(UNITS)

    # Resumed: a trial as bad, but in its last epoch, is not pruned: it completes with its value.
    kd.sweeps.resume(sweep_id, 1)
    kd.sweeps.tick()
    last = runs_of(kd, sweep_id)[6]
    train(kd, last.id, [0.8, 0.05], end=None)   # lagging after epoch 2 of 3: the stop would land in the last
    kd.sweeps.tick()
    with kd.store.session() as s:
        assert s.get(Run, last.id).status == "running"
    train(kd, last.id, [0.05], end=None)   # its third and last epoch
    kd.sweeps.tick()
    with kd.store.session() as s:
        assert s.get(Run, last.id).status == "running"
    journal.set_status(kd.store, last.id, "completed")
    kd.sweeps.tick()
    assert trials(kd, sweep_id)[6]["state"] == "complete" and trials(kd, sweep_id)[6]["value"] == 0.05


def test_a_failed_trial_is_marked_failed_and_the_sweep_goes_on(kd):
    sweep_id = sweep_of(kd, trials=3, parallel=1)
    kd.sweeps.tick()
    train(kd, runs_of(kd, sweep_id)[0].id, [0.5], end=None)
    journal.set_status(kd.store, runs_of(kd, sweep_id)[0].id, "failed", "The worker was killed.")
    kd.sweeps.tick()
    train(kd, runs_of(kd, sweep_id)[1].id, [float("nan")] * 3)   # completed, but its objective is NaN
    kd.sweeps.tick()
    train(kd, runs_of(kd, sweep_id)[2].id, [0.4, 0.5, 0.6])
    kd.sweeps.tick()
    got = kd.sweeps.get(sweep_id)
    assert [t["state"] for t in got["trials"]] == ["failed", "failed", "complete"]
    assert got["trials"][0]["error"] == "The worker was killed." and got["status"] == "completed"
    assert got["best"]["number"] == 2


def test_stop_starts_nothing_new_and_stops_the_running_trials_then_resume_goes_on(kd):
    sweep_id = sweep_of(kd, trials=6, parallel=2)
    kd.sweeps.tick()
    first, second = runs_of(kd, sweep_id)[0], runs_of(kd, sweep_id)[1]
    train(kd, first.id, [0.5], end=None)                  # one running, one still queued
    kd.sweeps.stop(sweep_id)
    kd.sweeps.tick()
    with kd.store.session() as s:
        assert s.get(Run, first.id).status == "stopping" and s.get(Run, second.id).status == "stopped"
    journal.set_status(kd.store, first.id, "stopped")
    kd.sweeps.tick()
    got = kd.sweeps.get(sweep_id)
    assert got["status"] == "stopped" and [t["state"] for t in got["trials"]] == ["stopped", "stopped"]
    assert sorted(runs_of(kd, sweep_id)) == [0, 1]       # nothing new started

    kd.sweeps.resume(sweep_id, 1)
    kd.sweeps.tick()
    assert sorted(runs_of(kd, sweep_id)) == [0, 1, 2] and kd.sweeps.get(sweep_id)["trials_planned"] == 3
    train(kd, runs_of(kd, sweep_id)[2].id, [0.7, 0.7, 0.7])
    kd.sweeps.tick()
    assert kd.sweeps.get(sweep_id)["status"] == "completed"


def test_another_process_takes_a_sweep_over_once_its_lease_lapses(kd, monkeypatch):
    sweep_id = sweep_of(kd, trials=3, parallel=1)
    kd.sweeps.tick()
    other = SweepService(kd.store, kd.runs, kd.sweeps.url, kd.sweeps.max_trials)
    train(kd, runs_of(kd, sweep_id)[0].id, [0.5, 0.5, 0.5])
    other.tick()
    assert sorted(runs_of(kd, sweep_id)) == [0]           # the first process's lease holds
    with kd.store.session() as s:                        # ... until it lapses (the first process died)
        row = s.get(Sweep, sweep_id)
        row.lease_until = row.lease_until.replace(year=2000)
    other.tick()
    assert sorted(runs_of(kd, sweep_id)) == [0, 1] and trials(kd, sweep_id)[0]["state"] == "complete"
    kd.sweeps.tick()
    assert sorted(runs_of(kd, sweep_id)) == [0, 1]       # the first one, back, no longer schedules it
    assert LEASE_S <= 10
    with pytest.raises(IntegrityError):                  # and had both submitted a trial, one run would be kept
        with kd.store.session() as s:
            s.add(Run(name="again", status="queued", dataset="digits", spec=BASE, history={}, sweep_id=sweep_id,
                      sweep_trial=1))


def test_a_full_queue_holds_the_asked_trial_back_without_losing_it(kd):
    kd.runs.max_queued = 1   # KD_MAX_QUEUED_PER_USER: the owner's runs waiting
    sweep_id = sweep_of(kd, accounts.create_user(kd.store, "member", "member", "password-of-member").id,
                        trials=2, parallel=2)
    kd.sweeps.tick()
    assert sorted(runs_of(kd, sweep_id)) == [0]
    got = kd.sweeps.get(sweep_id)["trials"]
    assert [(t["number"], t["state"], t["run_id"] is None) for t in got] == [(0, "queued", False), (1, "queued", True)]
    train(kd, runs_of(kd, sweep_id)[0].id, [0.5], end=None)   # no longer queued: room for one more
    kd.sweeps.tick()
    assert sorted(runs_of(kd, sweep_id)) == [0, 1]
    assert runs_of(kd, sweep_id)[1].spec["model"]["layers"][1]["units"] == got[1]["params"]["model.layers.1.units"]


def test_a_grid_sweep_tries_each_point_once_and_ends_in_ask_and_tell(kd):
    sweep_id = sweep_of(kd, sampler="grid", trials=50, parallel=1,
                        space={"model.layers.1.units": {"type": "categorical", "choices": [8, 16, 24]}})
    assert kd.sweeps.get(sweep_id)["trials_planned"] == 3   # no more trials than the grid has points
    for _ in range(3):
        kd.sweeps.tick()
        train(kd, runs_of(kd, sweep_id)[max(runs_of(kd, sweep_id))].id, [0.5, 0.5, 0.5])
    kd.sweeps.tick()
    got = kd.sweeps.get(sweep_id)
    assert got["status"] == "completed"
    assert sorted(t["params"]["model.layers.1.units"] for t in got["trials"]) == [8, 16, 24]


def test_optunas_public_api_does_what_the_scheduler_relies_on(tmp_path):
    # Pins: a live Trial from the storage's public ids reports and prunes; tell of PRUNED keeps the
    # last report as its value; importance covers every searched parameter.
    url = f"sqlite:///{tmp_path / 'o.db'}"
    config = {"space": {"x": {"type": "float", "low": 0.0, "high": 1.0, "log": False},
                        "y": {"type": "categorical", "choices": ["a", "b"]}},
              "objective": {"direction": "maximize"}, "sampler": "random", "pruner": "median",
              "base": {"fit": {"epochs": 3}}}
    study.create(url, "pin", config)
    st = study.load(url, "pin", config)
    for i in range(6):
        number, params = study.ask(st, config)
        live = study.live_trial(url, st, number)
        assert live.number == number and set(params) == {"x", "y"}
        stop = study.report(live, 1, params["x"] if i < 5 else -1.0)
        assert stop == (i == 5)
        study.tell(st, live, "pruned" if stop else "complete", params["x"])
    done = st.get_trials(deepcopy=False)
    assert done[5].state == optuna.trial.TrialState.PRUNED and done[5].value == -1.0
    shares = study.importance(st)
    assert set(shares) == {"x", "y"} and math.isclose(sum(shares.values()), 1.0, abs_tol=0.01)


def test_a_trial_whose_ask_was_cut_short_gets_the_rest_of_its_values_not_a_second_trial(kd):
    # Optuna's ask makes the trial, then stores its values one by one: an instance killed in between
    # leaves a running trial with part of the space. Its run must still train a whole sample.
    both = {**UNITS, "compile.optimizer.learning_rate": {"type": "float", "low": 1e-3, "high": 3e-2, "log": True}}
    sweep_id = sweep_of(kd, space=both, trials=1, parallel=1)
    with kd.store.session() as s:
        row = s.get(Sweep, sweep_id)
    config = row.config
    st = study.load(kd.sweeps.url, row.study_name, config)
    cut = st.ask({"model.layers.1.units": study.distribution(config["space"]["model.layers.1.units"])})
    assert set(cut.params) == {"model.layers.1.units"}
    kd.sweeps.tick()
    got = kd.sweeps.get(sweep_id)["trials"]
    assert [t["number"] for t in got] == [0]                      # no trial asked besides it
    assert set(got[0]["params"]) == set(both) and got[0]["params"]["model.layers.1.units"] == cut.params["model.layers.1.units"]
    run = runs_of(kd, sweep_id)[0]
    for path, value in got[0]["params"].items():
        assert space.get(run.spec, path) == value, path
