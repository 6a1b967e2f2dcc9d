"""The run journal: every event is stored here, with its seq, before anyone sends it.

One transaction per event bumps `runs.last_seq`, stores the event and applies what it means to the
run (status, history, progress). The web process and trainer processes both write through here, so
the state machine is enforced in one place. No Flask, no Keras.
"""

import math

from sqlalchemy import JSON, bindparam, delete, insert, select, update

from ..db.store import Run, RunEvent, utcnow

# Which status may follow which (a run that ended can be continued: it goes back to queued).
TRANSITIONS = {
    "queued": {"running", "stopped", "failed", "interrupted"},
    "running": {"stopping", "completed", "stopped", "failed", "interrupted"},
    "stopping": {"stopped", "completed", "failed", "interrupted"},
    "completed": {"queued"},
    "stopped": {"queued"},
    "failed": {"queued"},
    "interrupted": {"queued", "failed"},
}
ACTIVE = ("queued", "running", "stopping")
ENDED = ("completed", "stopped", "failed", "interrupted")


def clean(value):
    """Give a JSON-safe number: floats rounded to float precision, NaN and infinity as None."""
    if isinstance(value, float) or hasattr(value, "item"):
        value = float(value)
        return value if math.isfinite(value) else None
    return value


def clean_logs(logs):
    """Give Keras logs as a JSON-safe dict of plain floats, keys unchanged."""
    return {str(k): clean(v) for k, v in (logs or {}).items()}


def _next_seq(session, run_id):
    # The UPDATE takes the row's write lock first, so two processes never get the same seq.
    return session.execute(update(Run).where(Run.id == run_id).values(last_seq=Run.last_seq + 1)
                           .returning(Run.last_seq)).scalar_one()


def _store(session, run, kind, data):
    seq = _next_seq(session, run.id)
    data = {"run_id": run.id, "seq": seq, **data}
    session.add(RunEvent(run_id=run.id, seq=seq, kind=kind, payload=data))
    return kind, data


def announce(store, run_id):
    """Record the first event of a new run, which is stored as queued: its run_status."""
    with store.session() as s:
        run = s.get(Run, run_id)
        return _store(s, run, "run_status", {"status": run.status, "error": None,
                                             "epochs_planned": run.epochs_planned})


def set_status(store, run_id, status, error=None, **fields):
    """Record a run_status event and move the run to `status`; give (event, data), or None when the
    run's current status may not move there (it already ended, or was stopped meanwhile)."""
    with store.session() as s:
        run = s.get(Run, run_id, with_for_update=True)
        if run is None or status not in TRANSITIONS.get(run.status, ()):
            return None
        run.status, run.error = status, error
        now = utcnow()
        if status == "running":
            run.started_at, run.finished_at = now, None
        elif status in ENDED:
            run.finished_at, run.progress = now, None
        for key, value in fields.items():
            setattr(run, key, value)
        extra = {k: v for k, v in fields.items() if k in ("epochs_planned", "epochs_done")}
        return _store(s, run, "run_status", {"status": status, "error": error, **extra})


def add_epoch(store, run_id, epoch, logs, sent_at=None):
    """Record a run_epoch event: append the logs to the history and count the epoch done.
    sent_at: when the callback reported it (time.time()), so viewers and benches can see the lag."""
    logs = clean_logs(logs)
    with store.session() as s:
        run = s.get(Run, run_id, with_for_update=True)
        history = {k: list(v) for k, v in (run.history or {}).items()}
        for key in set(history) | set(logs):
            values = history.setdefault(key, [None] * (epoch - 1))
            values.extend([None] * (epoch - 1 - len(values)))   # a key that appeared late
            values[epoch - 1:] = [logs.get(key)]
        run.history, run.epochs_done, run.progress = history, epoch, None
        event = _store(s, run, "run_epoch", {"epoch": epoch, "logs": logs, "sent_at": sent_at})
        # Batch events of finished epochs are only progress, and their dynamics are in dynamics.json (written
        # before the epoch was reported): keep the journal small.
        s.execute(delete(RunEvent).where(RunEvent.run_id == run_id, RunEvent.kind.in_(("run_batch", "run_dynamics")),
                                         RunEvent.seq < event[1]["seq"]))
        return event


def add_dynamics(store, run_id, data):
    """Record a run_dynamics event: {"every", "steps", "weights", "warnings"} new since the last one (runs/dynamics.since)."""
    with store.session() as s:
        return _store(s, s.get(Run, run_id), "run_dynamics", data)


def dynamics_events(store, run_id):
    """Give the payloads of a run's stored run_dynamics events (those of its unfinished epoch), in order."""
    with store.session() as s:
        return list(s.scalars(select(RunEvent.payload).where(RunEvent.run_id == run_id, RunEvent.kind == "run_dynamics")
                              .order_by(RunEvent.seq)))


def drop_dynamics(store, run_id):
    """Forget a run's stored run_dynamics events (a new fit starts from dynamics.json, which holds what they held)."""
    with store.session() as s:
        s.execute(delete(RunEvent).where(RunEvent.run_id == run_id, RunEvent.kind == "run_dynamics"))


def add_batch(store, run_id, data):
    """Record a run_batch event (epoch, batch, steps, logs, samples_per_s, eta_s) and keep it as the run's progress.

    A trainer calls this a few times a second beside `fit`, so it is three statements built once:
    loading the run through the ORM (its whole history, spec and summary, decoded for each batch)
    and building the statements anew cost the trainer about 3 % of its CPU (bench/runs.py).
    """
    with store.engine.begin() as conn:
        seq = conn.execute(_NEXT_SEQ, {"run": run_id}).scalar_one()
        payload = {"run_id": run_id, "seq": seq, **data, "logs": clean_logs(data.get("logs"))}
        conn.execute(_INSERT_EVENT, {"run_id": run_id, "seq": seq, "kind": "run_batch", "payload": payload,
                                     "created_at": utcnow()})
        conn.execute(_SET_PROGRESS, {"run": run_id, "payload": payload})
    return "run_batch", payload


_runs, _events = Run.__table__, RunEvent.__table__
_NEXT_SEQ = (update(_runs).where(_runs.c.id == bindparam("run")).values(last_seq=_runs.c.last_seq + 1)
             .returning(_runs.c.last_seq))
_INSERT_EVENT = insert(_events)
_SET_PROGRESS = update(_runs).where(_runs.c.id == bindparam("run")).values(progress=bindparam("payload", type_=JSON))


def events_after(store, run_id, seq):
    """Give the stored events of a run with a seq above `seq`, in order."""
    with store.session() as s:
        rows = s.scalars(select(RunEvent).where(RunEvent.run_id == run_id, RunEvent.seq > seq)
                         .order_by(RunEvent.seq))
        return [(row.kind, row.payload) for row in rows]

