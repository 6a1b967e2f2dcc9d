"""Live runs seen through a real Socket.IO client (python-socketio) against `python wsgi.py`.

What a viewer relies on: `subscribe` answers with run_history first; after it come the run's events
with seq last_seq+1, +2, ... (a copy of an event already in run_history may come once, and is dropped
by its seq); every epoch arrives once, in order, and what the viewer assembles is the run's history.
Late joiners, reconnects and a server restart in the middle of a run lose nothing.
"""

import signal

import pytest

from tests.live import LiveServer, Viewer, ended, wait_until
from tests.specs import MLP, spec

pytestmark = pytest.mark.keras
SHORT = spec(MLP, name="stream", fit={"epochs": 3, "batch_size": 64, "validation": "test"})
# Small batches make an epoch last about a second on two cores. The run has far more epochs than a
# test watches, so it is still going when the viewer comes back however slow or fast the machine;
# the test stops it once the viewer has seen it go on.
LONG_EPOCHS = 300
LONG = spec(MLP, name="long", fit={"epochs": LONG_EPOCHS, "batch_size": 8, "validation": "test"})


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Give a live server (warm spare on) shared by this module's tests on one data dir, signed in as an admin.

    The restart tests, last in the module, stop and start it again on the same data dir and port."""
    live = LiveServer(tmp_path_factory.mktemp("stream") / "data").start().sign_in()
    yield live
    live.close()


def session(events, run_id):
    """Check one subscription's events of a run and give (run_history data, the events after last_seq).

    run_history comes first; then seqs rise strictly, and those above last_seq follow each other
    with no gap (throttled batch updates are never stored, so they take no seq).
    """
    mine = [(name, data) for name, data, _ in events if data["run_id"] == run_id]
    assert mine and mine[0][0] == "run_history", f"the first event was not run_history: {mine[:3]}"
    history = mine[0][1]
    assert all(name != "run_history" for name, _ in mine[1:]), "run_history came twice"
    seqs = [data["seq"] for _, data in mine[1:]]
    assert all(b > a for a, b in zip(seqs, seqs[1:])), f"seqs did not rise: {seqs}"
    fresh = [(name, data) for name, data in mine[1:] if data["seq"] > history["last_seq"]]
    first = history["last_seq"] + 1
    assert [data["seq"] for _, data in fresh] == list(range(first, first + len(fresh))), seqs
    return history, fresh


def assemble(history, fresh):
    """Give the history a viewer builds: run_history's, then each new run_epoch's logs at its epoch."""
    out = {key: list(values) for key, values in history["history"].items()}
    for name, data in fresh:
        if name == "run_epoch":
            for key, value in data["logs"].items():
                values = out.setdefault(key, [])
                assert len(values) == data["epoch"] - 1, f"epoch {data['epoch']} of {key} after {len(values)} epochs"
                values.append(value)
    return out


def epochs(fresh):
    """Give the epoch numbers of the run_epoch events, in arrival order."""
    return [data["epoch"] for name, data in fresh if name == "run_epoch"]


def epochs_in(events):
    """Give the epoch numbers of the run_epoch events among a Viewer's (name, data, time) events."""
    return [data["epoch"] for name, data, _ in events if name == "run_epoch"]


def statuses(history, fresh):
    """Give the statuses a viewer saw: run_history's, then each run_status's."""
    return [history["status"]] + [data["status"] for name, data in fresh if name == "run_status"]


def test_subscribers_get_run_history_then_every_epoch_and_status_in_order(server):
    with Viewer(server.url, transport="websocket", auth=server.auth) as viewer:
        # Each subscribed to as soon as it is posted. A warm spare trains SHORT in about a second, and the
        # second must still be queued when its viewer subscribes: the first has batches of 8 (~3 s).
        first = server.start_run(spec(SHORT, fit={"epochs": 3, "batch_size": 8, "validation": "test"}))
        assert viewer.subscribe(first) == {"ok": True}
        second = server.start_run(spec(SHORT, name="queued behind"))   # one run at a time: it waits
        assert viewer.subscribe(second) == {"ok": True}
        viewer.wait(lambda v: sum(d["status"] == "completed" for d in v.named("run_status")) == 2,
                    what=f"completion of runs {first} and {second}")

    for run_id in (first, second):
        history, fresh = session(viewer.events, run_id)
        seen = statuses(history, fresh)
        assert seen == ["queued", "running", "completed"][-len(seen):] and len(seen) >= 2, seen
        assert epochs(fresh) == [e for e in (1, 2, 3) if e > history["epochs_done"]]
        run = server.run(run_id)
        assert run["status"] == "completed" and run["epochs_done"] == 3
        assert assemble(history, fresh) == run["history"]
        assert set(run["history"]) == {"loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"}
        assert run["last_seq"] == fresh[-1][1]["seq"]
    # Each epoch event says when the callback sent it: before the viewer received it, on one machine's clock.
    received = [(data, t) for name, data, t in viewer.events if name == "run_epoch"]
    assert received and all(isinstance(d["sent_at"], float) and 0 <= t - d["sent_at"] < 60 for d, t in received)
    # The second run waited in the queue (KD_MAX_CONCURRENT_RUNS=1) and started once the first had completed.
    assert statuses(*session(viewer.events, second)) == ["queued", "running", "completed"]
    names = [(name, data["run_id"], data.get("status")) for name, data, _ in viewer.events]
    assert names.index(("run_status", first, "completed")) < names.index(("run_status", second, "running"))


def test_a_late_joiner_gets_the_whole_run_in_run_history(server):
    run_id = server.start_run(spec(SHORT, fit={"epochs": 2, "batch_size": 64, "validation": 0.2}))
    run = server.wait_run(run_id, lambda r: r["status"] == "completed")
    with Viewer(server.url, transport="polling", auth=server.auth) as viewer:
        assert viewer.subscribe(run_id) == {"ok": True}
        viewer.wait(lambda v: v.named("run_history"), what="run_history")
    history = viewer.named("run_history")[0]
    assert history["status"] == "completed" and history["epochs_done"] == 2
    assert history["history"] == run["history"] and history["last_seq"] == run["last_seq"]
    assert all(len(values) == 2 for values in history["history"].values())
    assert {"val_loss", "val_accuracy"} <= set(history["history"])


def test_the_training_dynamics_stream_as_run_dynamics_and_read_back_whole(server):
    fit = {"epochs": 2, "batch_size": 64, "validation": "test", "dynamics": {"every": 3}}
    with Viewer(server.url, transport="websocket", auth=server.auth) as viewer:
        run_id = server.start_run(spec(SHORT, name="dynamics", fit=fit))
        assert viewer.subscribe(run_id) == {"ok": True}
        viewer.wait(lambda v: any(d["run_id"] == run_id and d["status"] == "completed" for d in v.named("run_status")),
                    what=f"the end of run {run_id}")
    history, fresh = session(viewer.events, run_id)       # run_dynamics events take their seqs in order too
    answer = server.get(f"/api/runs/{run_id}/dynamics").json()
    steps_per_epoch = -(-1437 // 64)
    assert answer["every"] == 3 and [s["step"] for s in answer["steps"]] == list(range(1, 2 * steps_per_epoch + 1, 3))
    assert all(s["step"] == (s["epoch"] - 1) * steps_per_epoch + s["batch"] and s["loss"] > 0 and s["learning_rate"] == 0.001
               for s in answer["steps"])
    assert [(w["layer"], w["name"]) for w in answer["weights"]] == [(layer, name) for layer in ("dense", "dense_1")
                                                                    for name in ("kernel", "bias")]
    assert all(len(w[key]) == len(answer["steps"]) and all(v >= 0 for v in w[key])
               for w in answer["weights"] for key in ("grad_norm", "weight_norm", "update_norm"))
    # What the live events carried, assembled, is what the API answers (the run started after the subscribe).
    live = [data for name, data in fresh if name == "run_dynamics"]
    assert live and all(set(d) >= {"run_id", "seq", "steps", "weights", "warnings"} for d in live)
    assert [s for d in live for s in d["steps"]] == answer["steps"] and answer["warnings"] == []
    kernel = [v for d in live for v in d["weights"][0]["update_norm"]]
    assert kernel == answer["weights"][0]["update_norm"]
    # An epoch's run_dynamics events are pruned once dynamics.json holds them; the answer stays whole.
    assert all(name != "run_dynamics" for name, _ in server_events(server, run_id))
    assert "There is no run 999999" in server.get("/api/runs/999999/dynamics", expect=404).json()["error"]["message"]
    for fit, field in (({"dynamics": {"every": 0}}, "fit.dynamics.every"),
                       ({"find_lr": {"min_lr": 1.0, "max_lr": 0.1}}, "fit.find_lr.max_lr")):
        refused = server.post("/api/runs", json=spec(SHORT, fit=fit), expect=422).json()
        assert [e["field"] for e in refused["errors"]] == [field]


def server_events(server, run_id):
    """Give the (kind, payload) events the server's journal still stores for a run."""
    from webapp.db.store import Store
    from webapp.runs import journal

    return journal.events_after(Store(f"sqlite:///{server.data_dir / 'dashboard.db'}"), run_id, 0)


def test_a_viewer_that_reconnects_mid_run_misses_no_epoch(server):
    run_id = server.start_run(LONG)
    viewer = Viewer(server.url, transport="websocket", auth=server.auth).connect()
    try:
        assert viewer.subscribe(run_id) == {"ok": True}
        viewer.wait(lambda v: 1 in [d["epoch"] for d in v.named("run_epoch")], what="epoch 1")
        viewer.disconnect()
        before = list(viewer.events)
        seen = max(data.get("seq", data.get("last_seq", 0)) for _, data, _ in before)
        # The run goes on while nobody watches: it stores an event this viewer has not seen.
        server.wait_run(run_id, lambda r: r["last_seq"] > seen)
        viewer.connect()
        assert viewer.subscribe(run_id) == {"ok": True}
        rejoined = len(viewer.events)
        viewer.wait(lambda v: len(epochs_in(v.events[rejoined:])) >= 2, what="two epochs after the reconnect")
        server.post(f"/api/runs/{run_id}/stop", expect=202)
        viewer.wait(ended(), what=f"the end of run {run_id}")
    finally:
        viewer.disconnect()

    history1, fresh1 = session(before, run_id)
    history2, fresh2 = session(viewer.events[len(before):], run_id)
    assert 1 in epochs(fresh1) + [e + 1 for e in range(history1["epochs_done"])]
    assert history2["status"] == "running" and 1 <= history2["epochs_done"] < LONG_EPOCHS, "the viewer did not rejoin mid-run"
    assert history2["last_seq"] >= fresh1[-1][1]["seq"]
    # What the viewer had before the reconnect is part of what run_history gives it after.
    for key, values in assemble(history1, fresh1).items():
        assert history2["history"][key][:len(values)] == values
    run = server.run(run_id)
    assert run["status"] == "stopped" and run["epochs_done"] < LONG_EPOCHS
    assert epochs(fresh2) == list(range(history2["epochs_done"] + 1, run["epochs_done"] + 1))
    assert assemble(history2, fresh2) == run["history"]
    assert statuses(history2, fresh2) == ["running", "stopping", "stopped"]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_a_restart_mid_run_leaves_it_interrupted_and_continue_finishes_it(server, sig):
    run_id = server.start_run(spec(MLP, name="restart", fit={"epochs": 100, "batch_size": 16, "validation": "test"}))
    server.wait_run(run_id, lambda r: r["epochs_done"] >= 1)
    assert len(server.group()) >= 2, "no trainer process next to the server"
    server.stop(sig)

    # Nothing the old server started may go on training on its own.
    wait_until(lambda: server.group() == [], 90,
               lambda: f"processes left after {sig.name} to the server: {server.group()}")

    server.start()
    run = server.run(run_id)
    assert run["status"] == "interrupted" and run["error"], run
    done = run["epochs_done"]
    assert 1 <= done < 100 and all(len(values) == done for values in run["history"].values())
    # No trainer of the old server is left (above), and run_history below still says `done`.

    with Viewer(server.url, transport="websocket", auth=server.auth) as viewer:
        assert viewer.subscribe(run_id) == {"ok": True}
        server.post(f"/api/runs/{run_id}/continue", json={"epochs": 1}, expect=202)
        viewer.wait(ended(("completed", "stopped", "failed")), what=f"the end of run {run_id}")
    history, fresh = session(viewer.events, run_id)
    assert history["status"] == "interrupted" and history["epochs_done"] == done
    assert statuses(history, fresh) == ["interrupted", "queued", "running", "completed"]
    assert epochs(fresh) == [done + 1]
    final = server.run(run_id)
    assert final["status"] == "completed" and final["epochs_done"] == done + 1
    assert final["history"] == assemble(history, fresh)
    for key, values in run["history"].items():
        assert final["history"][key][:done] == values
