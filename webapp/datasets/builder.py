"""The worker-side builder: an uploaded file (a folder archive or an .npz) made into a stored dataset.

It runs outside the web process — in a freshly spawned process (embedded executor) or in an RQ
work-horse (KD_EXECUTOR=rq) — with Pillow and numpy only, so it starts in a moment. It reads the
limits the upload was accepted under from the dataset's row, reports progress as events, and
ends the row `ready` or `failed`; on failure none of the dataset's files remain.
"""

import json
import logging
import sys
import time

from ..store import Dataset, Store
from . import folders, npz
from .registry import Registry

log = logging.getLogger(__name__)
EVERY_S = 0.25        # progress events at most this often
STORE_EVERY_S = 1.0   # the row's progress (what a late subscriber sees) at most this often


def room(ds_id):
    """Give the name of a dataset's Socket.IO room (web/events.py uses this one)."""
    return f"dataset:{ds_id}"


class Progress:
    """Reports images done / total with an ETA, throttled, as `dataset_progress` events and in the row."""

    def __init__(self, registry, ds_id, emit):
        self.registry, self.ds_id, self.emit = registry, ds_id, emit
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
            self.registry.update(self.ds_id, {"progress": payload})


def build(settings, ds_id, emit):
    """Build dataset `ds_id` from its received file; give its final state ("ready" or "failed")."""
    store = Store(settings["KD_DATABASE_URL"])
    registry = Registry(settings["KD_DATA_DIR"], store)
    with store.session() as s:
        row = s.get(Dataset, ds_id)
    if row is None or row.meta.get("state") != "building":
        return None
    meta, limits = row.meta, row.meta["limits"]
    path = registry.incoming(ds_id, meta["format"])
    try:
        if meta["format"] == "npz":
            with open(path, "rb") as f:
                arrays = npz.read(f, limits["max_raw"], limits["max_bytes"], limits["max_images"])
            registry.finish(ds_id, arrays, arrays["class_names"], arrays["pixel_max"])
        else:
            opts = folders.Options(**{**meta["options"], "image_size": tuple(meta["options"]["image_size"] or ())
                                      or None})
            arrays, names, notes, facts = folders.ingest(path, meta["format"], opts, limits,
                                                         Progress(registry, ds_id, emit))
            registry.finish(ds_id, arrays, names, 255.0, {"notes": notes, "facts": facts})
        state, error = "ready", None
    except npz.UploadError as exc:
        state, error = "failed", str(exc)
    except Exception as exc:   # a fault of ours: the user still gets a state and a message, not a hang
        log.exception("building dataset %s failed", ds_id)
        state, error = "failed", f"The dataset could not be built ({type(exc).__name__}: {exc})."
    if state == "failed":
        registry.fail(ds_id, error)
    path.unlink(missing_ok=True)
    emit(("dataset_state", {"dataset_id": ds_id, "state": state, "error": error}))
    return state


def child_main(fd, settings, ds_id):
    """A builder process: build, writing each event as a JSON line to `fd`, then exit.

    A web process that went away does not stop the build: its dataset still ends ready or failed.
    """
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C on the server is the server's
    with open(fd, "w", encoding="utf-8") as out:
        def emit(event):
            try:
                out.write(json.dumps(event) + "\n")
                out.flush()
            except (BrokenPipeError, OSError):
                pass

        build(settings, ds_id, emit)


def build_job(ds_id):
    """The RQ job (in a work-horse): build, emitting through Socket.IO's Redis message queue."""
    import socketio

    from ..runs import rq_shared

    settings = rq_shared.settings()
    queue = socketio.RedisManager(settings["KD_REDIS_URL"], channel=settings["KD_SOCKETIO_CHANNEL"], write_only=True)

    def emit(event):
        name, data = event
        queue.emit(name, data, namespace=rq_shared.NAMESPACE, room=room(data["dataset_id"]))

    return build(settings, ds_id, emit)


def on_failure(job, connection, exc_type, exc, traceback):
    """RQ's failure callback: the work-horse died or timed out; the dataset fails, leaving nothing."""
    from ..runs import rq_shared

    settings = rq_shared.settings()
    registry = Registry(settings["KD_DATA_DIR"], Store(settings["KD_DATABASE_URL"]))
    info = registry.info(job.args[0])
    if info and info.get("state") == "building":
        registry.fail(job.args[0], f"The worker building this dataset stopped ({exc_type.__name__ if exc_type else 'lost'}"
                                   f": {exc}); nothing was stored.")


if __name__ == "__main__":   # builds.py starts `python -m webapp.datasets.builder FD SETTINGS_JSON ID`
    child_main(int(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3])
