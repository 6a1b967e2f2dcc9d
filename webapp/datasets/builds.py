"""Where dataset builds run: a freshly spawned process beside the web process, or an RQ job on the workers' queue.

The web process only receives the file (streamed to disk) and relays progress; the arrays are
decoded in `builder.py`. With the embedded executor each build gets a new Python process of its
own (`python -m webapp.datasets.builder`: never a fork of a process that may have TensorFlow
loaded, and importing Pillow and numpy only); its events come up a pipe as JSON lines, and the web
process writes the dataset's row from the ones that carry its fields. With KD_EXECUTOR=rq an
archive is an RQ job on the queue the run workers take (KD_RQ_QUEUE), emitting through Socket.IO's
Redis message queue. An .npz, whose uploader waits for a 201, is always built in such a process here.
"""

import json
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

from . import builder, npz

log = logging.getLogger(__name__)
# The builder imports this webapp, wherever the server was started from.
PYTHONPATH = os.pathsep.join([str(Path(__file__).resolve().parents[2]), *filter(None, [os.environ.get("PYTHONPATH")])])
JOB_TIMEOUT_S = 3600
MAX_AT_ONCE = 1   # builds beside the web process at a time; the next ones wait (their state says building)


class Builds:
    """Starts dataset builds and relays their events to `notify((name, data))`."""

    def __init__(self, settings, registry, notify=None):
        self.settings = {k: settings[k] for k in ("KD_DATA_DIR", "KD_DATABASE_URL")}
        self.limits = limits(settings)
        self.rq = settings if settings["KD_EXECUTOR"] == "rq" else None
        self.registry = registry
        self.notify = notify or (lambda event: None)
        self._at_once = threading.BoundedSemaphore(MAX_AT_ONCE)

    def receive(self, name, kind, filename, save, owner_id, options=None):
        """Give (description, finished) of a new upload: `save(path)` streams the file to disk, then it is built.

        An .npz is checked from its headers here (nothing allocated), built in a spawned process
        and waited for: ready, or UploadError with no trace left. An archive is built in the
        background: its description says `building`.
        """
        archive = "".join(c for c in (filename or "") if c.isprintable())[-200:]   # shown on pages and in train.py
        meta = {"format": kind, "archive": archive, "limits": self.limits,
                "options": options.to_dict() if options else None}
        ds_id = self.registry.begin(name, owner_id, meta)
        try:
            path = self.registry.incoming(ds_id, kind)
            save(str(path))
            if kind == "npz":
                with open(path, "rb") as f:
                    npz.check(f, self.limits["max_raw"], self.limits["max_bytes"], self.limits["max_images"])
        except BaseException:
            self.registry.remove(ds_id)
            raise
        self.start(ds_id, wait=kind == "npz")
        info = self.registry.info(ds_id)
        if kind == "npz" and info["state"] != "ready":
            self.registry.remove(ds_id)
            raise npz.UploadError(info.get("error") or "The .npz could not be read.")
        return info, kind == "npz"

    def start(self, ds_id, wait=False):
        """Build `ds_id` elsewhere; with wait=True (an .npz) return once it is ready or failed."""
        if self.rq is not None and not wait:
            self._enqueue(ds_id)
            return
        relay = threading.Thread(target=self._build_here, args=(ds_id,), daemon=True, name="kd-build-relay")
        relay.start()
        if wait:
            relay.join()

    def _build_here(self, ds_id):
        """Build in a new process (at most MAX_AT_ONCE at a time: each may take KD_MAX_DATASET_MB)."""
        with self._at_once:
            order = self.registry.build_order(ds_id)
            if order is None:
                return
            read, write = os.pipe()
            try:
                process = spawn(self.settings, ds_id, order, write)
            except OSError as exc:
                os.close(read)
                self._fail(ds_id, f"The process to build this dataset could not start ({exc}); nothing was stored.")
                return
            finally:
                os.close(write)
            with open(read, encoding="utf-8") as events:
                self._relay(events, process, ds_id)

    def _relay(self, events, process, ds_id):
        """Write the row and forward the events a builder sends (JSON lines) until its pipe closes.

        The row's fields come before the `dataset_state` that announces them, so a viewer told
        `ready` finds the dataset ready. A builder that died before its end fails its dataset.
        """
        for line in events:
            name, data = json.loads(line)
            if name == builder.ROW_EVENT:
                self.registry.record(ds_id, data["fields"])   # the build this relay started, whatever it says
            else:
                self.notify((name, data))
        process.wait()
        info = self.registry.info(ds_id)
        if info is not None and info.get("state") == "building":
            code = process.returncode
            self._fail(ds_id, f"The process building this dataset ended unexpectedly (exit code {code}"
                              f"{', out of memory?' if code == -9 else ''}); nothing was stored.")

    def _fail(self, ds_id, message):
        """Fail a dataset whose builder is gone, and tell its room."""
        self.registry.fail(ds_id, message)
        self.notify(("dataset_state", {"dataset_id": ds_id, "state": "failed", "error": message}))

    def _enqueue(self, ds_id):
        """Put the build on the RQ queue the run workers take."""
        from rq import Callback, Queue

        from ..runs import rq_shared

        queue = Queue(self.rq["KD_RQ_QUEUE"], connection=rq_shared.connect(self.rq["KD_REDIS_URL"]))
        queue.enqueue("webapp.datasets.builder.build_job", ds_id, job_id=f"kd-dataset-{ds_id}",
                      job_timeout=JOB_TIMEOUT_S, result_ttl=600, description=f"dataset {ds_id}",
                      on_failure=Callback("webapp.datasets.builder.on_failure"))


def spawn(settings, ds_id, order, fd):
    """Start a builder process for `ds_id` that writes its events to the pipe end `fd`; give its Popen.

    It is `python -m webapp.datasets.builder`, not a multiprocessing child: spawn would import
    the server's main module (wsgi.py, so Flask and the whole app) again before building.
    """
    return subprocess.Popen(
        [sys.executable, "-P", "-m", builder.__name__, str(fd), json.dumps(settings), ds_id, json.dumps(order)],
        pass_fds=(fd,), stdin=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": PYTHONPATH})


def limits(settings):
    """Give the limits an upload is accepted under (kept in its row, so a worker applies the same ones)."""
    return {"max_bytes": settings["KD_MAX_DATASET_MB"] * 2**20, "max_images": settings["KD_MAX_IMAGES"],
            "max_raw": 4 * settings["KD_MAX_UPLOAD_MB"] * 2**20}
