"""The run journal's state machine, the trainer's Publisher and history.csv, on a real SQLite store."""

import csv
import io
import itertools
import threading

import numpy as np
import pytest

from webapp.runs import journal
from webapp.runs.trainer import Publisher, history_csv
from webapp.db.store import Run, RunEvent, Store

STATES = tuple(journal.TRANSITIONS)


@pytest.fixture
def store(tmp_path):
    """Give a fresh SQLite store with its tables."""
    s = Store(f"sqlite:///{tmp_path / 'journal.db'}")
    s.create_all()
    return s


def new_run(store, status="running"):
    """Store a run in `status` and give its id."""
    with store.session() as s:
        run = Run(name="r", status=status, dataset="digits", spec={}, epochs_planned=3, history={})
        s.add(run)
    return run.id


def stored(store, run_id):
    """Give [(seq, kind, payload)] of the run's journal, in order."""
    with store.session() as s:
        return [(e.seq, e.kind, e.payload) for e in s.query(RunEvent).filter_by(run_id=run_id).order_by(RunEvent.seq)]


# -- the transition table ----------------------------------------------------------------------------------


def test_the_table_names_every_status_and_only_known_ones():
    assert set(STATES) == set(journal.ACTIVE) | set(journal.ENDED)
    assert all(to in STATES for targets in journal.TRANSITIONS.values() for to in targets)
    assert all(journal.TRANSITIONS[ended] >= {"queued"} for ended in journal.ENDED)   # every ended run continues


@pytest.mark.parametrize("before, after", list(itertools.product(STATES, STATES)))
def test_set_status_moves_a_run_exactly_where_the_table_allows(store, before, after):
    run_id = new_run(store, before)
    event = journal.set_status(store, run_id, after, "why" if after == "failed" else None)
    with store.session() as s:
        run = s.get(Run, run_id)
    if after in journal.TRANSITIONS[before]:
        assert event == ("run_status", {"run_id": run_id, "seq": 1, "status": after,
                                        "error": "why" if after == "failed" else None})
        assert run.status == after and stored(store, run_id) == [(1, "run_status", event[1])]
        assert (run.started_at is not None) == (after == "running")
        assert (run.finished_at is not None) == (after in journal.ENDED)
    else:
        assert event is None and run.status == before and stored(store, run_id) == [] and run.last_seq == 0


def test_continuing_carries_the_new_plan_in_the_event(store):
    run_id = new_run(store, "completed")
    event = journal.set_status(store, run_id, "queued", epochs_planned=5)
    assert event[1] == {"run_id": run_id, "seq": 1, "status": "queued", "error": None, "epochs_planned": 5}


def test_a_batch_event_is_stored_with_its_seq_and_is_the_runs_progress(store):
    run_id = new_run(store)
    journal.set_status(store, run_id, "stopping")
    data = {"epoch": 1, "batch": 3, "steps": 4, "logs": {"loss": np.float32(0.5), "accuracy": float("inf")},
            "samples_per_s": 12.5, "eta_s": 0.1}
    event = journal.add_batch(store, run_id, data)
    expected = {"run_id": run_id, "seq": 2, **data, "logs": {"loss": 0.5, "accuracy": None}}
    assert event == ("run_batch", expected)
    with store.session() as s:
        run = s.get(Run, run_id)
        assert run.progress == expected and run.last_seq == 2 and run.status == "stopping"
    assert stored(store, run_id)[-1] == (2, "run_batch", expected)


def test_an_epoch_appends_to_the_history_and_drops_that_epochs_batch_events(store):
    run_id = new_run(store)
    journal.add_batch(store, run_id, {"epoch": 1, "batch": 1, "steps": 2, "logs": {"loss": 2.0}})
    journal.add_epoch(store, run_id, 1, {"loss": 1.5, "accuracy": float("nan")}, sent_at=7.0)
    journal.add_epoch(store, run_id, 2, {"loss": 1.0, "val_loss": 1.25})
    with store.session() as s:
        run = s.get(Run, run_id)
    assert run.history == {"loss": [1.5, 1.0], "accuracy": [None, None], "val_loss": [None, 1.25]}
    assert run.epochs_done == 2 and run.progress is None and run.last_seq == 3
    assert [(seq, kind) for seq, kind, _ in stored(store, run_id)] == [(2, "run_epoch"), (3, "run_epoch")]


# -- Publisher -------------------------------------------------------------------------------------------------


def test_publisher_stores_then_sends_each_event_in_order_and_status_comes_last(store):
    run_id = new_run(store)
    sent, seen_stored = [], []

    def send(event):
        seen_stored.append(stored(store, run_id)[-1][0])   # the event is in the journal before it is sent
        sent.append(event)

    publish = Publisher(store, run_id, send)
    publish("batch", {"epoch": 1, "batch": 1, "steps": 2, "logs": {"loss": 2.0}, "sent_at": 1.0})
    publish("epoch", {"epoch": 1, "logs": {"loss": 1.5}, "sent_at": 2.0})
    publish.status("completed")
    assert [(kind, data["seq"]) for kind, data in sent] == [("run_batch", 1), ("run_epoch", 2), ("run_status", 3)]
    assert seen_stored == [1, 2, 3]
    assert sent[1][1] == {"run_id": run_id, "seq": 2, "epoch": 1, "logs": {"loss": 1.5}, "sent_at": 2.0}
    assert sent[2][1] == {"run_id": run_id, "seq": 3, "status": "completed", "error": None}


def test_publisher_does_not_make_fit_wait_for_the_database(store):
    run_id = new_run(store)
    gate = threading.Event()
    publish = Publisher(store, run_id, lambda event: gate.wait())
    publish("epoch", {"epoch": 1, "logs": {"loss": 1.0}})   # returns while the first send still waits
    publish("epoch", {"epoch": 2, "logs": {"loss": 0.5}})
    gate.set()
    publish.close()
    assert [seq for seq, _, _ in stored(store, run_id)] == [1, 2]


def test_a_failing_send_loses_that_event_only(store):
    run_id = new_run(store)
    sent = []

    def send(event):
        if event[1]["seq"] == 1:
            raise ConnectionError("viewer gone")
        sent.append(event[1]["seq"])

    publish = Publisher(store, run_id, send)
    publish("epoch", {"epoch": 1, "logs": {"loss": 1.0}})
    publish("epoch", {"epoch": 2, "logs": {"loss": 0.5}})
    publish.status("completed")
    assert sent == [2, 3] and len(stored(store, run_id)) == 3


# -- history.csv -------------------------------------------------------------------------------------------


def test_history_csv_has_one_row_per_epoch_and_one_column_per_log_key():
    text = history_csv({"loss": [0.5, 0.25], "val_accuracy": [0.75, 1.0], "learning_rate": [0.001, 0.0005]})
    assert text == "epoch,loss,val_accuracy,learning_rate\n1,0.5,0.75,0.001\n2,0.25,1.0,0.0005\n"


def test_history_csv_leaves_a_key_that_started_late_empty_and_reads_back_with_csv():
    text = history_csv({"loss": [1.0, 0.5, 0.25], "val_loss": [None, 0.75]})
    assert list(csv.reader(io.StringIO(text))) == [["epoch", "loss", "val_loss"], ["1", "1.0", ""],
                                                   ["2", "0.5", "0.75"], ["3", "0.25", ""]]


def test_history_csv_of_no_epochs_is_the_header_only():
    assert history_csv({}) == "epoch\n"
