"""Socket.IO, namespace /runs: every handler and every emit helper. One room per run.

A viewer subscribes to a run, joins its room, and gets `run_history` (everything so far, with
last_seq) before anything else, so a late joiner or a reconnect sees the whole run; events then
arrive in seq order and a client drops any seq it has already seen.
"""

import json
import threading

from flask import g, request
from flask_login import current_user
from flask_socketio import emit, join_room, leave_room

from ..team import accounts
from ..datasets.builder import room as dataset_room
from ..extensions import socketio
from ..modelspec.numbers import MAX_ID, whole
from ..db.store import Run
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


_BATCH = f'2{NAMESPACE},["run_batch",'   # a run_batch as python-socketio encodes it for a room


def batch_key(pkt):
    """Give ("run_batch", run_id) for an engine.io packet carrying a run_batch, else None (cached on it).

    web/fanout.py drops a queued run_batch when a newer one of the same run joins a slow viewer's
    queue; every other event (run_epoch, run_status, run_history) always reaches it.
    """
    key = getattr(pkt, "kd_batch_key", False)
    if key is False:
        data = getattr(pkt, "data", None)
        key = None
        if isinstance(data, str) and data.startswith(_BATCH):
            key = ("run_batch", json.loads(data[len(NAMESPACE) + 2:])[1]["run_id"])
        pkt.kd_batch_key = key   # one packet goes to a whole room: parse it once
    return key


def _event_id(data, key):
    """Give the id (run_id, sweep_id) an event names (a whole number, or its ASCII digits), or None."""
    value = data.get(key) if isinstance(data, dict) else None
    if isinstance(value, str):
        return whole(value)
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_ID else None


# Who is behind each connection, by sid: {"user": id, "session_gen": GEN or None (API token)} or
# {"share": token, "run_id": id}.
_viewers = {}
_viewers_lock = threading.Lock()


def _viewer(auth):
    """Give who a new connection is (session cookie, API token, share token), or None."""
    store = services().store
    if current_user.is_authenticated:   # a session cookie, or an Authorization: Bearer header
        return {"user": current_user.id, "session_gen": None if g.get("token_auth") else current_user.session_gen}
    if (user := accounts.user_for_token(store, auth.get("token"))) is not None:
        return {"user": user.id, "session_gen": None}
    if (target := accounts.share_target(store, auth.get("share"))) is not None:
        return {"share": auth["share"], f"{target[0]}_id": target[1]}   # run_id, or sweep_id
    return None


# python-socketio dispatches a client's ordinary event named "connect" or "disconnect" to these
# handlers too, so each checks that the connection really is opening or closing: a client must
# never rewrite or erase the record of who is behind its socket.
@socketio.on("connect", namespace=NAMESPACE)
def connect(auth=None):
    """Accept a signed-in browser (session cookie), an API token or a share token; refuse the rest."""
    with _viewers_lock:
        if request.sid in _viewers:
            return None   # an event named "connect" on an open socket: ignored
    viewer = _viewer(auth if isinstance(auth, dict) else {})
    if viewer is None:
        raise ConnectionRefusedError("Sign in, or connect with auth={'token': ...} or {'share': ...}.")
    with _viewers_lock:
        _viewers[request.sid] = viewer
    return None


@socketio.on("disconnect", namespace=NAMESPACE)
def disconnect(*_args):
    """Forget who was behind a closed connection."""
    if socketio.server.manager.is_connected(request.sid, NAMESPACE):
        return   # an event named "disconnect" from a socket that stays open: ignored
    with _viewers_lock:
        _viewers.pop(request.sid, None)


def _close(match):
    """Close every connection whose viewer record `match` accepts."""
    with _viewers_lock:
        sids = [sid for sid, v in _viewers.items() if match(v)]
    for sid in sids:
        socketio.server.disconnect(sid, namespace=NAMESPACE)


def drop_share(token):
    """Close every live stream a revoked share token opened."""
    _close(lambda v: v.get("share") == token)


def drop_user(user_id, sessions_only=False):
    """Close a user's live streams (disabled, demoted); `sessions_only` leaves API-token ones open."""
    _close(lambda v: v.get("user") == user_id and not (sessions_only and v.get("session_gen") is None))


def _may_watch(run_id):
    viewer = _viewers.get(request.sid) or {}
    store = services().store
    if "user" in viewer:
        user = accounts.get_user(store, viewer["user"])
        gen = viewer.get("session_gen")
        return bool(user and user.active and (gen is None or gen == user.session_gen))
    if "sweep_id" in viewer:   # a sweep's link: the runs of that sweep's trials
        return _may_watch_sweep(viewer["sweep_id"]) and run_id is not None and _sweep_of(run_id) == viewer["sweep_id"]
    return viewer.get("run_id") == run_id and accounts.share_run(store, viewer.get("share")) == run_id


def _sweep_of(run_id):
    with services().store.session() as s:
        run = s.get(Run, run_id)
        return run.sweep_id if run else None


def _may_watch_sweep(sweep_id):
    """Say whether this connection may watch a sweep: a signed-in, still valid user, or that sweep's live link."""
    viewer = _viewers.get(request.sid) or {}
    if "user" in viewer:
        return _may_watch(None)
    return viewer.get("sweep_id") == sweep_id and \
        accounts.share_target(services().store, viewer.get("share")) == ("sweep", sweep_id)


@socketio.on("subscribe", namespace=NAMESPACE)
def subscribe(data):
    """Join a run's room and answer with its run_history; the ack says whether it worked."""
    run_id = _event_id(data, "run_id")
    kd = services()
    if run_id is not None and not _may_watch(run_id):
        return {"ok": False, "error": "This connection may not watch that run (another run's share link, or "
                                      "the account was disabled or signed out)."}
    # Join first, read second: an event stored before the read but sent after it arrives twice,
    # never not at all, and the client drops the copy by its seq.
    with _in_order:
        if run_id is not None:
            join_room(room(run_id))
        payload = views.history_payload(kd.store, run_id) if run_id is not None else None
        if payload is None:
            if run_id is not None:
                leave_room(room(run_id))
            asked = data.get("run_id") if isinstance(data, dict) else data
            return {"ok": False, "error": f"There is no run {str(asked)[:40]}."}
        emit("run_history", payload)
    return {"ok": True}


@socketio.on("unsubscribe", namespace=NAMESPACE)
def unsubscribe(data):
    """Leave a run's room."""
    run_id = _event_id(data, "run_id")
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
    if "user" not in _viewers.get(request.sid, {}) or not _may_watch(None):
        return {"ok": False, "error": "Sign in to watch a dataset being built."}
    info = services().datasets.info(ds_id) if isinstance(ds_id, str) else None
    if info is None:
        return {"ok": False, "error": f"There is no dataset {ds_id!r}."}
    join_room(dataset_room(ds_id))
    return {"ok": True, "state": info["state"], "progress": info.get("progress"), "error": info.get("error")}


# Sweeps: a room per sweep. subscribe_sweep answers with sweep_history (every trial so far and the
# last seq); sweep_trial and sweep_status follow, in seq order. Signed-in users, and the sweep's share link.
def sweep_room(sweep_id):
    """Give the name of a sweep's room."""
    return f"sweep:{sweep_id}"


def broadcast_sweep(event):
    """Send a sweep's (name, data) event (sweep_trial, sweep_status) to everyone watching it."""
    name, data = event
    with _in_order:
        socketio.emit(name, data, to=sweep_room(data["sweep_id"]), namespace=NAMESPACE)


@socketio.on("subscribe_sweep", namespace=NAMESPACE)
def subscribe_sweep(data):
    """Join a sweep's room and answer with its sweep_history; the ack says whether it worked."""
    sweep_id = _event_id(data, "sweep_id")
    if sweep_id is None:
        asked = data.get("sweep_id") if isinstance(data, dict) else data
        return {"ok": False, "error": f"There is no sweep {str(asked)[:40]}."}
    if not _may_watch_sweep(sweep_id):
        return {"ok": False, "error": "This connection may not watch that sweep (sign in, or open its share link)."}
    with _in_order:   # join first, read second, as for a run
        join_room(sweep_room(sweep_id))
        payload = services().sweeps.history(sweep_id)
        if payload is None:
            leave_room(sweep_room(sweep_id))
            return {"ok": False, "error": f"There is no sweep {sweep_id}."}
        emit("sweep_history", payload)
    return {"ok": True}


@socketio.on("unsubscribe_sweep", namespace=NAMESPACE)
def unsubscribe_sweep(data):
    """Leave a sweep's room."""
    sweep_id = _event_id(data, "sweep_id")
    if sweep_id is not None:
        leave_room(sweep_room(sweep_id))
    return {"ok": True}
