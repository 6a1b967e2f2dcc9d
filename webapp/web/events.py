"""Socket.IO, namespace /runs: every handler and every emit helper. One room per run.

A viewer subscribes to a run, joins its room, and gets `run_history` (everything so far, with
last_seq) before anything else, so a late joiner or a reconnect sees the whole run; events then
arrive in seq order and a client drops any seq it has already seen.
"""

import threading

from flask_socketio import emit, join_room, leave_room

from ..extensions import socketio
from ..runs import views
from . import services

NAMESPACE = "/runs"
# A subscribe's join, read and run_history, and every broadcast, happen under this lock: without it
# an event sent between the join and run_history reached the viewer before run_history.
_in_order = threading.Lock()


def room(run_id):
    """Give the name of a run's room."""
    return f"run:{run_id}"


def broadcast(event):
    """Send a stored (name, data) event to everyone watching its run."""
    name, data = event
    with _in_order:
        socketio.emit(name, data, to=room(data["run_id"]), namespace=NAMESPACE)


def _run_id(data):
    value = data.get("run_id") if isinstance(data, dict) else None
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@socketio.on("subscribe", namespace=NAMESPACE)
def subscribe(data):
    """Join a run's room and answer with its run_history; the ack says whether it worked."""
    run_id = _run_id(data)
    kd = services()
    # Join first, read second: an event stored before the read but sent after it arrives twice,
    # never not at all, and the client drops the copy by its seq.
    with _in_order:
        if run_id is not None:
            join_room(room(run_id))
        payload = views.history_payload(kd.store, run_id) if run_id is not None else None
        if payload is None:
            if run_id is not None:
                leave_room(room(run_id))
            return {"ok": False, "error": f"There is no run {data.get('run_id') if isinstance(data, dict) else data!r}."}
        emit("run_history", payload)
    return {"ok": True}


@socketio.on("unsubscribe", namespace=NAMESPACE)
def unsubscribe(data):
    """Leave a run's room."""
    run_id = _run_id(data)
    if run_id is not None:
        leave_room(room(run_id))
    return {"ok": True}
