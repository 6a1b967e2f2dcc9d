"""The fan-out to many viewers (web/fanout.py) through real python-socketio clients: a viewer that falls
behind loses only run_batch events that a newer one of its run replaced, never an epoch or a status,
and gets what it gets in seq order, ending with the latest batch; a viewer that keeps up gets everything.
"""

import socket
import threading

import pytest
from werkzeug.serving import make_server

from tests.conftest import signed_in
from tests.live import Viewer, wait_until
from webapp import create_app
from webapp.db.store import Run
from webapp.web import events, fanout


@pytest.fixture
def served(tmp_path):
    """Give (app, url, token): an app with no trainer slots, served over HTTP and websockets in this process."""
    app = create_app({"KD_DATA_DIR": str(tmp_path / "data"), "KD_WARM_SPARE": "0", "KD_MAX_CONCURRENT_RUNS": "0",
                      "TESTING": True})
    token = signed_in(app).token
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield app, f"http://127.0.0.1:{server.server_port}", token
    server.shutdown()


def add_run(app):
    """Store a running run (no trainer: this test sends its events itself) and give its id."""
    with app.extensions["kd"].store.session() as s:
        run = Run(name="fanout", status="running", dataset="digits", spec={}, epochs_planned=100, history={})
        s.add(run)
    return run.id


class Sender:
    """Sends a run's events as a trainer's relay does (events.broadcast), numbering them by seq."""

    def __init__(self, run_id):
        self.run_id, self.seq, self.epochs = run_id, 0, 0

    def __call__(self, name, **data):
        self.seq += 1
        events.broadcast((name, {"run_id": self.run_id, "seq": self.seq, **data}))
        return self.seq

    def batch(self):
        """Send a run_batch; give its seq."""
        return self("run_batch", epoch=self.epochs + 1, batch=self.seq, logs={"loss": 0.5})

    def epoch(self):
        """Send a run_epoch; give its seq."""
        self.epochs += 1
        return self("run_epoch", epoch=self.epochs, logs={"loss": 0.5})


def test_a_slow_viewer_gets_every_epoch_in_seq_order_and_the_latest_batch(served):
    app, url, token = served
    run_id = add_run(app)
    release = threading.Event()
    slow = Viewer(url, auth={"token": token}, on_event=lambda name, *_: name == "run_batch" and release.wait())
    # A handler that blocks on the first batch (handlers run on the read loop), and small socket
    # buffers both ends (the server's would take megabytes): the server soon finds this socket full.
    slow.sio.eio.websocket_extra_options = {"sockopt": [(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)]}
    fast = Viewer(url, auth={"token": token})
    for viewer in (slow, fast):
        assert viewer.connect().subscribe(run_id)["ok"]
    outbox = app.extensions["socketio"].server.eio.sockets[slow.sio.eio.sid].queue
    outbox.ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    send, coalesced_before = Sender(run_id), fanout.coalesced()
    for _ in range(400):   # a bound, not a timing: each round is 50 events more, then the Flusher's write
        if outbox.busy:   # the writer thread holds what the socket did not take: the viewer is behind
            break
        for _ in range(50):
            send.batch()
        wait_until(lambda: outbox.busy or not outbox.qsize(), 60, "the Flusher writing the batches", poll=0.01)
    assert outbox.busy, "the slow viewer never fell behind: this test checked nothing"
    wanted = [send.epoch()]
    for _ in range(3):
        send.batch(), send.batch()
        wanted.append(send.epoch())
    last_batch = send.batch()
    wanted += [send("run_status", status="completed"), last_batch]
    wanted.sort()
    release.set()
    for viewer in (slow, fast):
        wait_until(lambda v=viewer: any(d.get("seq") == send.seq for _, d, _ in v.events), 60,
                   "every viewer receiving the last event")
    got = {v: [d["seq"] for n, d, _ in v.events if n != "run_history"] for v in (slow, fast)}
    assert got[fast] == list(range(1, send.seq + 1)), "the viewer that kept up lost or reordered events"
    assert got[slow] == sorted(set(got[slow])), "the slow viewer's events came out of seq order"
    assert set(wanted) <= set(got[slow]), f"the slow viewer lost {sorted(set(wanted) - set(got[slow]))}"
    assert got[slow][-1] == send.seq and len(got[slow]) < send.seq, "nothing was coalesced"
    assert fanout.coalesced() - coalesced_before == send.seq - len(got[slow])
    for viewer in (slow, fast):
        viewer.disconnect()
