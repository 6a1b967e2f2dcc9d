"""The web side of exports: a request checked and bounded, its build started on the runs' executor, the records listed.

With the embedded executor each export is a freshly spawned `python -m webapp.deploy.builder`
(TensorFlow is imported there, never in the web process), at most MAX_AT_ONCE at a time beside
this server, killed past KD_MAX_EXPORT_S; when it ends, its record is read and `run_export` sent
to the run's room. With KD_EXECUTOR=rq it is a job on the queue run workers take (KD_RQ_QUEUE),
which sends the event itself. No Flask: the web layer calls `Exports` and answers in JSON.
"""

import json
import logging
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

from ..predict import predictions
from ..runs import journal, paths
from . import builder, formats, records
from .formats import ExportError

log = logging.getLogger(__name__)
PYTHONPATH = os.pathsep.join([str(Path(__file__).resolve().parents[2]), *filter(None, [os.environ.get("PYTHONPATH")])])
MAX_AT_ONCE = 1       # export processes beside the web process at a time; the others wait, building
EXPORTABLE = ("completed", "stopped")


class Exports:
    """Starts a run's exports and relays their ends to `notify((name, data))`.

    Args:
        settings: the app's KD_* settings (data dir, database, executor, KD_MAX_EXPORT_S, KD_MAX_EXPORTS_BUILDING).
        notify: called with each `run_export` event a build here ends with.
    """

    def __init__(self, settings, notify=None):
        self.settings = {k: settings[k] for k in ("KD_DATA_DIR", "KD_DATABASE_URL")}
        self.data_dir = settings["KD_DATA_DIR"]
        self.max_s, self.max_building = settings["KD_MAX_EXPORT_S"], settings["KD_MAX_EXPORTS_BUILDING"]
        self.rq = settings if settings["KD_EXECUTOR"] == "rq" else None
        self.notify = notify or (lambda event: None)
        self._lock = threading.Lock()   # one check-and-create at a time in this process
        self._at_once = threading.BoundedSemaphore(MAX_AT_ONCE)

    def create(self, run, body):
        """Give (the export's view, created?) for a request on `run` (a Run row); ExportError says why not.

        The same format and quantization of the same saved model answers the export already there
        (building or ready); a failed one, or one of an older save, is replaced.
        """
        fmt, quantization = formats.check(body)
        formats.check_model(run.spec, fmt)
        self.exportable(run)
        with self._lock:
            existing = [r for r in records.all_of(self.data_dir, run.id)
                        if (r["format"], r["quantization"]) == (fmt, quantization)]
            version = records.model_version(self.data_dir, run.id)
            for record in existing:
                if record["state"] == "building" or (record["state"] == "ready" and record["model_version"] == version):
                    return records.view(record), False
            building = sum(r["state"] == "building" for r in records.all_of(self.data_dir, run.id))
            if building >= self.max_building:
                raise ExportError(429, "format", f"Run {run.id} has {building} exports building, the most one run may "
                                                 f"(KD_MAX_EXPORTS_BUILDING = {self.max_building}); wait for one to end.")
            for record in existing:
                records.remove(self.data_dir, run.id, record["id"])
            record = records.new(self.data_dir, run.id, fmt, quantization)
        self.start(run.id, record["id"], {"format": fmt, "quantization": quantization, "dataset": run.dataset})
        return records.view(records.read(self.data_dir, run.id, record["id"]) or record), True

    def exportable(self, run):
        """Refuse (409) a run that has not finished, or has no saved model and test predictions."""
        folder = paths.run_dir(self.data_dir, run.id)
        if run.status in journal.ACTIVE:
            raise ExportError(409, "run", f"Run {run.id} is {run.status}; export it once it has completed or been stopped.")
        if run.status not in EXPORTABLE or not (folder / paths.MODEL).exists() or not (folder / predictions.FILE).exists():
            raise ExportError(409, "run", f"Run {run.id} is {run.status} and has no finished model with test predictions "
                                          "to export; only a completed or stopped run can be exported.")

    def list(self, run_id):
        """Give the contract's export objects of a run, oldest first."""
        return [records.view(r) for r in records.all_of(self.data_dir, run_id)]

    def download(self, run_id, eid):
        """Give (path of the .zip, its download name) of a ready export, or raise ExportError(404/409)."""
        record = records.read(self.data_dir, run_id, eid)
        if record is None:
            raise ExportError(404, "export", f"Run {run_id} has no export {eid}.")
        if record["state"] != "ready":
            raise ExportError(409, "export", f"Export {eid} of run {run_id} is {record['state']}; only a ready export "
                                             "can be downloaded.")
        name = f"run{run_id}-{record['format']}{'' if record['quantization'] == 'none' else '-' + record['quantization']}.zip"
        return records.download_path(self.data_dir, run_id, eid), name

    def start(self, run_id, eid, order):
        """Build the export elsewhere: a spawned process here (on a relay thread), or an RQ job."""
        if self.rq is not None:
            try:
                self._enqueue(run_id, eid, order)
            except Exception as exc:   # Redis unreachable, say: the export fails now rather than build never
                log.exception("export %s of run %s could not be queued", eid, run_id)
                self._ended(run_id, eid, f"The export could not be put on the workers' queue ({type(exc).__name__}: {exc}).")
            return
        threading.Thread(target=self._build_here, args=(run_id, eid, order), daemon=True, name="kd-export").start()

    def _build_here(self, run_id, eid, order):
        """Run the builder process (MAX_AT_ONCE at a time), then send the record it left."""
        with self._at_once:
            try:
                process = spawn(self.settings, run_id, eid, order)
            except OSError as exc:
                self._ended(run_id, eid, f"The process to build this export could not start ({exc}).")
                return
            try:
                process.wait(timeout=self.max_s)
                message = f"The process building this export ended unexpectedly (exit code {process.returncode})."
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                message = builder.TIMED_OUT.format(self.max_s)
        self._ended(run_id, eid, message)

    def _ended(self, run_id, eid, message):
        """Fail an export its builder left building (with `message`), clear its leftovers and send its record."""
        record = records.read(self.data_dir, run_id, eid)
        if record is not None and record["state"] == "building":
            folder = records.folder(self.data_dir, run_id)
            (folder / f".{eid}.partial.zip").unlink(missing_ok=True)
            shutil.rmtree(folder / f".{eid}.partial", ignore_errors=True)
            record = records.fail(self.data_dir, run_id, eid, message)
        if record is not None:
            self.notify(builder.event(run_id, record))

    def _enqueue(self, run_id, eid, order):
        """Put the build on the RQ queue the run workers take."""
        from rq import Callback, Queue

        from ..runs import rq_shared

        queue = Queue(self.rq["KD_RQ_QUEUE"], connection=rq_shared.connect(self.rq["KD_REDIS_URL"]))
        queue.enqueue("webapp.deploy.builder.build_job", run_id, eid, order, job_id=f"kd-export-{run_id}-{eid}",
                      job_timeout=self.max_s, result_ttl=600, description=f"export {eid} of run {run_id}",
                      on_failure=Callback("webapp.deploy.builder.on_failure"))

    def start_up(self):
        """Fail the exports a previous server left building beside it (embedded executor only; RQ's jobs outlive servers)."""
        if self.rq is not None:
            return
        for run_id, eid in records.left_building(self.data_dir):
            self._ended(run_id, eid, records.RESTARTED)


def spawn(settings, run_id, eid, order):
    """Start `python -m webapp.deploy.builder` for one export; give its Popen (not a fork: TensorFlow is not fork-safe)."""
    return subprocess.Popen(
        [sys.executable, "-P", "-m", builder.__name__, json.dumps(settings), str(run_id), str(eid), json.dumps(order)],
        stdin=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": PYTHONPATH})
