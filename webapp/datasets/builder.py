"""The worker-side builder: an uploaded file (a folder archive or an .npz) made into a stored dataset.

It runs outside the web process — in a freshly spawned process (embedded executor) or in an RQ
work-horse (KD_EXECUTOR=rq) — with Pillow and numpy only, so it starts in a moment. It builds
under the limits the upload was accepted under (the build order), reports progress as events, and
ends the dataset's row `ready` or `failed` through `record(fields)`: a spawned builder sends the
fields up its pipe and the web process writes them (so it never imports SQLAlchemy); a work-horse
writes them itself. On failure none of the dataset's files remain.
"""

import functools
import json
import logging
import os
import sys
import time

from . import archive, folders, npz, series, stored, texts

log = logging.getLogger(__name__)
EVERY_S = 0.25        # progress events at most this often
STORE_EVERY_S = 1.0   # the row's progress (what a late subscriber sees) at most this often
# an order written before texts and series were read: their limits as the settings' defaults
TEXT_LIMITS = {"max_texts": 1_000_000, "max_text_bytes": 1024 * 2**10, "max_series_length": 100_000}
ROW_EVENT = "dataset_row"   # up a spawned builder's pipe: {dataset_id, fields} for Registry.record, never relayed
TIMED_OUT = ("Building this dataset took longer than {} s, the most a build may take here (KD_MAX_BUILD_S), "
             "so it was stopped; nothing was stored. Send fewer or smaller images.")


def room(ds_id):
    """Give the name of a dataset's Socket.IO room (web/events.py uses this one)."""
    return f"dataset:{ds_id}"


class Progress:
    """Reports images done / total with an ETA, throttled, as `dataset_progress` events and in the row."""

    def __init__(self, ds_id, emit, record):
        self.ds_id, self.emit, self.record = ds_id, emit, record
        self.started = time.monotonic()
        self.sent = self.stored = 0.0

    def __call__(self, done, total):
        """Report that `done` of `total` images are decoded (the last one always)."""
        now = time.monotonic()
        if done < total and now - self.sent < EVERY_S:
            return
        self.sent = now
        rate = done / max(now - self.started, 1e-6)
        payload = {"dataset_id": self.ds_id, "done": done, "total": total,
                   "eta_s": round((total - done) / rate, 1) if done else None}
        self.emit(("dataset_progress", payload))
        if now - self.stored >= STORE_EVERY_S:
            self.stored = now
            self.record({"progress": payload})


def build(folder, ds_id, order, emit, record, time_up=()):
    """Build dataset `ds_id` from its file in the uploads `folder` as `order` says; give "ready" or "failed".

    Args:
        order: {"format", "limits", "options"} as Registry.build_order gives them.
        emit: called with each (event name, payload) for the dataset's room.
        record: called with fields for the dataset's row (Registry.record): progress, then its end.
        time_up: exception types raised in here when KD_MAX_BUILD_S has passed (RQ's job timeout).
    """
    path = stored.incoming(folder, ds_id, order["format"])
    limits = order["limits"]
    try:
        if order["format"] == "npz":
            with open(path, "rb") as f:
                arrays = npz.read(f, limits["max_raw"], limits["max_bytes"], limits["max_images"])
            fields = stored.save(folder, ds_id, arrays, arrays["class_names"], arrays["pixel_max"])
        else:
            kind, read = _reader(path, order, limits)
            opts = folders.Options(**{**order["options"], "image_size": tuple(order["options"]["image_size"] or ())
                                      or None})
            arrays, names, notes, facts = read(path, order["format"], opts, {**TEXT_LIMITS, **limits},
                                               Progress(ds_id, emit, record))
            fields = stored.save(folder, ds_id, arrays, names, 255.0 if kind == "image" else 1.0,
                                 {"notes": notes, "facts": facts}, kind)
    except npz.UploadError as exc:
        fields = stored.failed(str(exc))
    except time_up:
        fields = stored.failed(TIMED_OUT.format(limits.get("max_build_s", "?")))   # "?": an order from before the limit
    except Exception as exc:   # a fault of ours: the user still gets a state and a message, not a hang
        log.exception("building dataset %s failed", ds_id)
        fields = stored.failed(f"The dataset could not be built ({type(exc).__name__}: {exc}).")
    path.unlink(missing_ok=True)
    record(fields)
    emit(("dataset_state", {"dataset_id": ds_id, "state": fields["state"], "error": fields.get("error")}))
    return fields["state"]


def _reader(path, order, limits):
    """Give (kind, ingest function) of an uploaded file: a .csv/.tsv is series; an archive by what its members are."""
    fmt = order["format"]
    if fmt in ("csv", "tsv"):
        return "series", functools.partial(series.ingest, name=order.get("archive"))
    kind = archive.content(path, fmt, limits["max_bytes"])
    return kind, {"image": folders.ingest, "text": texts.ingest, "series": series.ingest}[kind]


def build_recorded(registry, ds_id, emit, time_up=()):
    """Build `ds_id`, writing its row through `registry` (a work-horse, tests); None unless it is building."""
    order = registry.build_order(ds_id)
    if order is None:
        return None
    return build(registry.upload_dir, ds_id, order, emit, lambda fields: registry.record(ds_id, fields), time_up)


def child_main(fd, settings, ds_id, order):
    """A spawned builder: build, writing each event and the row's fields as JSON lines to `fd`, then exit.

    A web process that went away does not stop the build: its dataset still ends ready or failed,
    written here then (the one case a spawned builder imports the registry and SQLAlchemy).
    """
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C on the server is the server's

    def send(event):
        """Write one event up the pipe, unbuffered; give False when the web process is gone."""
        line = (json.dumps(event) + "\n").encode()
        try:
            while line:
                line = line[os.write(fd, line):]
            return True
        except OSError:   # EPIPE: nobody reads any more
            return False

    def record(fields):
        if not send((ROW_EVENT, {"dataset_id": ds_id, "fields": fields})) and "state" in fields:
            _registry(settings).record(ds_id, fields)

    try:
        build(stored.upload_dir(settings["KD_DATA_DIR"]), ds_id, order, send, record)
    finally:
        os.close(fd)


def _registry(settings):
    """Give a registry on the data dir and database `settings` name (imports SQLAlchemy)."""
    from ..db.store import Store
    from .registry import Registry

    return Registry(settings["KD_DATA_DIR"], Store(settings["KD_DATABASE_URL"]))


def build_job(ds_id):
    """The RQ job (in a work-horse): build, emitting through Socket.IO's Redis message queue."""
    import socketio
    from rq.timeouts import JobTimeoutException

    from ..runs import rq_shared

    settings = rq_shared.settings()
    queue = socketio.RedisManager(settings["KD_REDIS_URL"], channel=settings["KD_SOCKETIO_CHANNEL"], write_only=True)

    def emit(event):
        name, data = event
        queue.emit(name, data, namespace=rq_shared.NAMESPACE, room=room(data["dataset_id"]))

    return build_recorded(_registry(settings), ds_id, emit, (JobTimeoutException,))


def on_failure(job, connection, exc_type, exc, traceback):
    """RQ's failure callback: the work-horse died or timed out; the dataset fails, leaving nothing."""
    from ..runs import rq_shared

    registry = _registry(rq_shared.settings())
    info = registry.info(job.args[0])
    if info and info.get("state") == "building":
        registry.fail(job.args[0], f"The worker building this dataset stopped ({exc_type.__name__ if exc_type else 'lost'}"
                                   f": {exc}); nothing was stored.")


if __name__ == "__main__":   # builds.py starts `python -m webapp.datasets.builder FD SETTINGS_JSON ID ORDER_JSON`
    child_main(int(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3], json.loads(sys.argv[4]))
