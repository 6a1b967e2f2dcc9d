"""Where dataset builds run: a freshly spawned process beside the web process, or an RQ job on the workers' queue.

The web process only receives the file (streamed to disk) and relays progress; the arrays are
decoded in `builder.py`. With the embedded executor each build gets a new Python process of its
own (`python -m webapp.datasets.builder`: never a fork of a process that may have TensorFlow
loaded, and importing Pillow and numpy only); its events come up a pipe as JSON lines, and the web
process writes the dataset's row from the ones that carry its fields. With KD_EXECUTOR=rq an
archive is an RQ job on the queue the run workers take (KD_RQ_QUEUE), emitting through Socket.IO's
Redis message queue. An .npz, whose uploader waits for a 201, is always built in such a process here.
A build may take KD_MAX_BUILD_S: past it a spawned builder is killed (an RQ job times out) and the
dataset fails, so one upload cannot hold the builder the others wait for.
"""

import json
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

from . import builder, npz, stored

log = logging.getLogger(__name__)
# The builder imports this webapp, wherever the server was started from.
PYTHONPATH = os.pathsep.join([str(Path(__file__).resolve().parents[2]), *filter(None, [os.environ.get("PYTHONPATH")])])
RESTARTED = "The server restarted while this dataset was being built; upload {} again."   # the archive, the .npz
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
        name = npz.check_name(name)
        ds_id = self.registry.new_id(name)
        lock = stored.take_lock(self.registry.upload_dir, ds_id)   # before the row says building: see start_up
        try:
            self.registry.begin(name, owner_id, meta, ds_id)
            path = self.registry.incoming(ds_id, kind)
            save(str(path))
            if kind == "npz":
                with open(path, "rb") as f:
                    npz.check(f, self.limits["max_raw"], self.limits["max_bytes"], self.limits["max_images"])
        except BaseException:
            self.registry.remove(ds_id)
            os.close(lock)
            raise
        self.start(ds_id, kind, lock)
        info = self.registry.info(ds_id)
        if kind == "npz" and info["state"] != "ready":
            self.registry.remove(ds_id)
            raise npz.UploadError(info.get("error") or "The .npz could not be read.")
        return info, kind == "npz"

    def start(self, ds_id, kind, lock):
        """Build `ds_id` elsewhere, handing on its `lock` (take_lock's); an .npz returns once it is ready or failed."""
        if not self._here(kind):
            try:
                self._enqueue(ds_id)
            finally:   # the row is the RQ job's now (start_up leaves it alone)
                stored.lock_path(self.registry.upload_dir, ds_id).unlink(missing_ok=True)
                os.close(lock)
            return
        relay = threading.Thread(target=self._build_here, args=(ds_id, lock), daemon=True, name="kd-build-relay")
        relay.start()
        if kind == "npz":
            relay.join()

    def _here(self, kind):
        """Tell whether an upload of `kind` is built beside this web process (with RQ, an .npz only)."""
        return self.rq is None or kind == "npz"

    def _build_here(self, ds_id, lock):
        """Build in a new process (at most MAX_AT_ONCE at a time: each may take KD_MAX_DATASET_MB).

        This thread holds the build's lock until the row is written, the builder from its start to
        its end: whichever outlives the other keeps the dataset from being failed at the next start.
        """
        try:
            with self._at_once:
                order = self.registry.build_order(ds_id)
                if order is not None:
                    self._spawn_and_relay(ds_id, order, lock)
        finally:
            os.close(lock)

    def _spawn_and_relay(self, ds_id, order, lock):
        """Spawn the builder of `ds_id` (it inherits `lock`) and relay what it sends until it ends or is
        killed, KD_MAX_BUILD_S after it started."""
        read, write = os.pipe()
        try:
            process = spawn(self.settings, ds_id, order, write, lock)
        except OSError as exc:
            os.close(read)
            self._fail(ds_id, f"The process to build this dataset could not start ({exc}); nothing was stored.")
            return
        finally:
            os.close(write)
        timed_out = threading.Event()
        timer = threading.Timer(self.limits["max_build_s"], lambda: (timed_out.set(), process.kill()))
        timer.daemon = True
        timer.start()
        try:
            with open(read, encoding="utf-8") as events:
                self._relay(events, process, ds_id, timed_out)
        finally:
            timer.cancel()

    def start_up(self):
        """Fail the uploads a previous server left building whose builder is gone; once, as a server starts.

        One query finds the rows that say building (usually none). A build beside a web process
        holds its lock file's flock from before its row exists until the row is written: taken
        by the web process, inherited by the builder, released when the last of them ends, however
        it ends. A lock this process can take therefore means that nobody will write that row; a
        builder that outlived its server still holds it and is left to write its row itself.
        With KD_EXECUTOR=rq an archive is an RQ job on a worker, which outlives web instances: a
        dead work-horse is RQ's to report (builder.on_failure), so only .npz builds are looked at.
        """
        for ds_id, kind in self.registry.building():
            if not self._here(kind):
                continue
            lock = stored.take_lock(self.registry.upload_dir, ds_id, wait=False)
            if lock is None:
                continue   # its builder lives
            try:
                info = self.registry.info(ds_id)   # read again under the lock: it may have ended meanwhile
                if info is not None and info["state"] == "building":
                    self.registry.fail(ds_id, RESTARTED.format("the .npz" if kind == "npz" else "the archive"))
            finally:
                stored.lock_path(self.registry.upload_dir, ds_id).unlink(missing_ok=True)
                os.close(lock)

    def _relay(self, events, process, ds_id, timed_out):
        """Write the row and forward the events a builder sends (JSON lines) until its pipe closes.

        The row's fields come before the `dataset_state` that announces them, so a viewer told
        `ready` finds the dataset ready. A builder that died (or was killed: `timed_out`) before its
        end fails its dataset.
        """
        for line in events:
            try:
                name, data = json.loads(line)
            except ValueError:   # the last line of a builder killed while it wrote
                continue
            if name == builder.ROW_EVENT:
                self.registry.record(ds_id, data["fields"])   # the build this relay started, whatever it says
            else:
                self.notify((name, data))
        process.wait()
        info = self.registry.info(ds_id)
        if info is not None and info.get("state") == "building":
            code = process.returncode
            self._fail(ds_id, builder.TIMED_OUT.format(self.limits["max_build_s"]) if timed_out.is_set() else
                       f"The process building this dataset ended unexpectedly (exit code {code}"
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
                      job_timeout=self.limits["max_build_s"], result_ttl=600, description=f"dataset {ds_id}",
                      on_failure=Callback("webapp.datasets.builder.on_failure"))


def spawn(settings, ds_id, order, fd, lock=None):
    """Start a builder process for `ds_id` that writes its events to the pipe end `fd`; give its Popen.

    The builder inherits the descriptor `lock` (take_lock's), and so holds the flock while it lives.

    It is `python -m webapp.datasets.builder`, not a multiprocessing child: spawn would import
    the server's main module (wsgi.py, so Flask and the whole app) again before building.
    """
    return subprocess.Popen(
        [sys.executable, "-P", "-m", builder.__name__, str(fd), json.dumps(settings), ds_id, json.dumps(order)],
        pass_fds=(fd,) if lock is None else (fd, lock), stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": PYTHONPATH})


def limits(settings):
    """Give the limits an upload is accepted under (kept in its row, so a worker applies the same ones)."""
    return {"max_bytes": settings["KD_MAX_DATASET_MB"] * 2**20, "max_images": settings["KD_MAX_IMAGES"],
            "max_raw": 4 * settings["KD_MAX_UPLOAD_MB"] * 2**20, "max_build_s": settings["KD_MAX_BUILD_S"],
            "max_texts": settings["KD_MAX_TEXTS"], "max_text_bytes": settings["KD_MAX_TEXT_KB"] * 2**10,
            "max_series_length": settings["KD_MAX_SERIES_LENGTH"]}
