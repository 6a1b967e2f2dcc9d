"""Socket.IO, namespace /runs: every handler and every emit helper. One room per run.

A viewer subscribes to a run, joins its room, and gets `run_history` (everything so far, with
last_seq) before anything else, so a late joiner or a reconnect sees the whole run; events then
arrive in seq order and a client drops any seq it has already seen.
"""

import threading

from flask import request
from flask_login import current_user
from flask_socketio import emit, join_room, leave_room

from .. import accounts
from ..extensions import socketio
from ..datasets.builder import room as dataset_room
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


# Who is behind each connection: {"user": id} or {"share": token, "run_id": id}, by sid.
_viewers = {}
_viewers_lock = threading.Lock()


@socketio.on("connect", namespace=NAMESPACE)
def connect(auth=None):
    """Accept a signed-in browser (session cookie), an API token or a share token; refuse the rest."""
    auth = auth if isinstance(auth, dict) else {}
    store = services().store
    if current_user.is_authenticated:
        viewer = {"user": current_user.id}
    elif (user := accounts.user_for_token(store, auth.get("token"))) is not None:
        viewer = {"user": user.id}
    elif (run_id := accounts.share_run(store, auth.get("share"))) is not None:
        viewer = {"share": auth["share"], "run_id": run_id}
    else:
        raise ConnectionRefusedError("Sign in, or connect with auth={'token': ...} or {'share': ...}.")
    with _viewers_lock:
        _viewers[request.sid] = viewer


@socketio.on("disconnect", namespace=NAMESPACE)
def disconnect(*_args):
    """Forget who was behind a closed connection."""
    with _viewers_lock:
        _viewers.pop(request.sid, None)


def drop_share(token):
    """Close every live stream a revoked share token opened."""
    with _viewers_lock:
        sids = [sid for sid, v in _viewers.items() if v.get("share") == token]
    for sid in sids:
        socketio.server.disconnect(sid, namespace=NAMESPACE)


def _may_watch(run_id):
    viewer = _viewers.get(request.sid) or {}
    if "user" in viewer:
        return True
    return (viewer.get("run_id") == run_id
            and accounts.share_run(services().store, viewer.get("share")) == run_id)


@socketio.on("subscribe", namespace=NAMESPACE)
def subscribe(data):
    """Join a run's room and answer with its run_history; the ack says whether it worked."""
    run_id = _run_id(data)
    kd = services()
    if run_id is not None and not _may_watch(run_id):
        return {"ok": False, "error": "This share link opens another run."}
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


# Dataset builds: a room per dataset on the same namespace; the ack of a subscribe carries the
# state so far, so a page opened mid-build shows its bar at once. Signed-in users only.
def broadcast_dataset(event):
    """Send a dataset build's (name, data) event (dataset_progress, dataset_state) to its watchers."""
    name, data = event
    socketio.emit(name, data, to=dataset_room(data["dataset_id"]), namespace=NAMESPACE)


@socketio.on("subscribe_dataset", namespace=NAMESPACE)
def subscribe_dataset(data):
    """Join a dataset's room; the ack says {ok, state, progress, error} or why not."""
    ds_id = data.get("dataset_id") if isinstance(data, dict) else None
    if "user" not in _viewers.get(request.sid, {}):
        return {"ok": False, "error": "Sign in to watch a dataset being built."}
    info = services().datasets.info(ds_id) if isinstance(ds_id, str) else None
    if info is None:
        return {"ok": False, "error": f"There is no dataset {ds_id!r}."}
    join_room(dataset_room(ds_id))
    return {"ok": True, "state": info["state"], "progress": info.get("progress"), "error": info.get("error")}
