"""The worker side of KD_EXECUTOR=rq: an RQ worker whose work-horse trains one run and exits.

RunWorker is RQ's SpawnWorker: each work-horse is a new process (spawned, never forked, so nothing
of the worker's state is inherited), and the worker itself never imports TensorFlow. With
KD_WARM_SPARE (the default) the next work-horse is spawned ahead and imports TensorFlow while the
worker waits or trains (rq_horse.py), so a job starts training at once. One process per run: the
work-horse exits after its job and its memory goes back.

Every event is stored through the journal first, then emitted through Socket.IO's Redis message
queue (rq_shared.Emitter). How a run that did not end by itself ends:
- the user's stop: a Redis key the work-horse polls every 0.5 s; RQ's stop-job kills it after the grace;
- the work-horse killed (OOM, SIGKILL): the worker sees its exit status at once (`RunWorker.settle`);
- the worker killed: the work-horse notices within 0.5 s and fails the run, then exits;
- the whole machine gone: its heartbeat lapses; RQ's StartedJobRegistry cleanup (the web's
  watchdog, or any worker's maintenance) calls `on_failure` with AbandonedJobError.
"""

import json
import logging
import os
import signal
import socket
import sys
import threading
import time

from redis import RedisError
from rq import Queue, SpawnWorker, get_current_job

from ..db.store import Run, Store
from . import journal, rq_shared
from .rq_shared import fail_run

log = logging.getLogger(__name__)
POLL_S = 0.5


def train_job(run_id):
    """The RQ job, in the work-horse: mark the run running, train it, and give its final status."""
    settings = rq_shared.settings()
    store = Store(settings["KD_DATABASE_URL"])
    with store.session() as s:
        run = s.get(Run, run_id)
    # A job of an earlier queueing (the run was stopped while queued, then continued) does nothing.
    if run is None or rq_shared.job_id(run) != get_current_job().id:
        return "superseded"
    redis = rq_shared.connect(settings["KD_REDIS_URL"])
    redis.delete(rq_shared.stop_key(run_id))   # a stop of an earlier queueing; none can come before running
    emit = rq_shared.Emitter(settings["KD_REDIS_URL"], settings["KD_SOCKETIO_CHANNEL"])
    started = journal.set_status(store, run_id, "running")
    if started is None:
        return "not queued"   # stopped while it waited
    emit(started)
    watch = Watch(redis, store, settings, run_id, get_current_job().id)
    watch.start()
    from . import trainer

    trainer.train(run_id, settings, emit, watch.asked.is_set, worker=get_current_job().worker_name)
    with store.session() as s:
        return s.get(Run, run_id).status


class Watch(threading.Thread):
    """In the work-horse: every 0.5 s, read the run's stop key, and check the worker is still there.

    A stop request sets `asked` (the Keras callback reads it after each batch). When the worker
    that forked this work-horse is gone, nobody supervises the run any more: fail it and exit.
    """

    def __init__(self, redis, store, settings, run_id, job_id):
        super().__init__(name=f"kd-watch-{run_id}", daemon=True)
        self.redis, self.store, self.settings, self.run_id, self.job_id = redis, store, settings, run_id, job_id
        self.parent = os.getppid()
        self.asked = threading.Event()

    def run(self):
        """Poll until the process ends."""
        while True:
            if os.getppid() != self.parent:
                fail_run(self.store, self.settings, self.run_id, "The RQ worker supervising this run died, so "
                         "its training process ended; the last saved epoch is kept.", self.job_id)
                os._exit(1)
            try:
                if not self.asked.is_set() and self.redis.exists(rq_shared.stop_key(self.run_id)):
                    self.asked.set()
            except RedisError:
                pass   # Redis away for a moment: the stop is seen on a later poll
            time.sleep(POLL_S)


def on_failure(job, connection, exc_type, exc, traceback):
    """RQ's failure callback: the job raised before training, or its worker stopped beating."""
    settings = rq_shared.settings()
    if exc_type is not None and exc_type.__name__ == "AbandonedJobError":
        message = ("The worker training this run stopped answering (its machine or process died), so the "
                   "run was given up; the last saved epoch is kept.")
    else:
        message = f"The worker could not train this run: {exc}"
    fail_run(Store(settings["KD_DATABASE_URL"]), settings, job.args[0], message, job.id)


class Spare:
    """A spawned rq_horse process warming up, and the pipe its job will come through."""

    def __init__(self):
        read, self.pipe = os.pipe()
        try:   # its own process group, as RQ gives a work-horse: a stop kills the group
            self.pid = os.posix_spawn(sys.executable, [sys.executable, "-m", "webapp.runs.rq_horse"], os.environ,
                                      file_actions=[(os.POSIX_SPAWN_DUP2, read, 0)], setpgroup=0)
        finally:
            os.close(read)

    def alive(self):
        """Say whether it is still there (reaping it if it died while it waited)."""
        try:
            return os.waitpid(self.pid, os.WNOHANG) == (0, 0)
        except ChildProcessError:
            return False

    def hand(self, source, env):
        """Give it the work-horse's SOURCE and environment (RQ's, see rq_horse.py); it is the work-horse from now on."""
        order = json.dumps({"source": source, "env": dict(env)}).encode()
        try:
            while order:
                order = order[os.write(self.pipe, order):]
        finally:
            os.close(self.pipe)

    def close(self):
        """End it unused (the worker is shutting down) and reap it."""
        os.close(self.pipe)
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass


class RunWorker(SpawnWorker):
    """RQ's SpawnWorker, with a warm spare work-horse (rq_horse.py), a heartbeat short enough to
    notice a dead worker within ~3 beats, and a look at each run after its work-horse exits (settle)."""

    def __init__(self, *args, **kwargs):
        settings = rq_shared.settings()   # `rq worker -w webapp.runs.rq_worker.RunWorker` reads the KD_* environment
        super().__init__(*args, **kwargs)
        self._horse_status = None
        self._store = None
        self._warm = bool(settings["KD_WARM_SPARE"])
        self._spare = None

    def bootstrap(self, *args, **kwargs):
        """Register the worker, then spawn the spare that will take its first job."""
        super().bootstrap(*args, **kwargs)
        self._renew_spare()

    def _renew_spare(self):
        if self._warm and not self.is_horse and (self._spare is None or not self._spare.alive()):
            self._spare = Spare()

    def fork_work_horse(self, job, queue):
        """Hand the job to the spare, which RQ then treats as the work-horse it spawned; spawn the next spare.

        SpawnWorker builds the work-horse's SOURCE and spawns `python -c SOURCE` with os.posix_spawn;
        that one call is sent to the spare instead (tests/integration/test_rq.py checks a spare's pid
        trains the run, so an RQ that spawns otherwise fails a test rather than going cold unnoticed).
        """
        spare, self._spare = self._spare, None
        if spare is None or not spare.alive():   # none kept (KD_WARM_SPARE=0), or it died waiting: RQ's own spawn
            super().fork_work_horse(job, queue)
            self._renew_spare()
            return
        spawn = os.posix_spawn

        def hand_over(path, argv, env, **kwargs):
            if argv[1:2] != ["-c"]:
                return spawn(path, argv, env, **kwargs)
            try:
                spare.hand(argv[2], env)
            except OSError:   # it died since alive() (a broken pipe): RQ's own spawn, and reap the spare
                log.warning("the spare work-horse %s was gone; spawning one for job %s", spare.pid, job.id)
                try:
                    os.kill(spare.pid, signal.SIGKILL)
                    os.waitpid(spare.pid, 0)
                except (ProcessLookupError, ChildProcessError):
                    pass
                return spawn(path, argv, env, **kwargs)
            return spare.pid

        os.posix_spawn = hand_over
        try:
            super().fork_work_horse(job, queue)
        finally:
            os.posix_spawn = spawn
        self._renew_spare()

    def teardown(self):
        """Unregister the worker, and end a spare that got no job."""
        super().teardown()
        if self._spare is not None and not self.is_horse:
            self._spare.close()
            self._spare = None

    def get_heartbeat_ttl(self, job, working_time=0.0):
        """Give how long the job counts as alive without a beat: three monitoring intervals."""
        return 3 * int(self.job_monitoring_interval)

    def handle_work_horse_killed(self, job, retpid, ret_val, rusage):
        """Remember how the work-horse ended, for settle."""
        self._horse_status = ret_val
        super().handle_work_horse_killed(job, retpid, ret_val, rusage)

    def execute_job(self, job, queue):
        """Run the job in a work-horse, then end its run if the work-horse could not."""
        self._horse_status = None
        try:
            super().execute_job(job, queue)
        finally:
            if job.func_name == "webapp.runs.rq_worker.train_job":
                self.settle(job)

    def settle(self, job):
        """A work-horse exited: a run it left running failed (or stopped, if a stop was asked)."""
        settings = rq_shared.settings()
        self._store = self._store or Store(settings["KD_DATABASE_URL"])
        run_id = job.args[0]
        with self._store.session() as s:
            run = s.get(Run, run_id)
        if run is None or rq_shared.job_id(run) != job.id or run.status not in ("running", "stopping"):
            return
        try:
            grace = float(self.connection.get(rq_shared.stop_key(run_id)) or settings["KD_STOP_GRACE_S"])
        except (RedisError, ValueError):
            grace = float(settings["KD_STOP_GRACE_S"])
        fail_run(self._store, settings, run_id, exit_note(self._horse_status, run.status == "stopping", grace), job.id)


def exit_note(status, stopping, grace_s):
    """Give the sentence a user reads about a work-horse that ended without ending its run."""
    if stopping:
        return f"The run did not stop within {grace_s:g} s, so its process was killed; the last saved epoch is kept."
    if status is not None and os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        return (f"The training process was killed by signal {sig}{' (out of memory?)' if sig == signal.SIGKILL else ''}"
                f" on {socket.gethostname()}; the last saved epoch is kept.")
    code = os.WEXITSTATUS(status) if status is not None and os.WIFEXITED(status) else status
    return f"The training process ended unexpectedly (exit code {code})."


def work(settings, name=None, burst=False):
    """Run an RQ worker on KD_RQ_QUEUE until it is told to stop (SIGTERM/SIGINT: after its run)."""
    rq_shared.configure(settings)
    redis = rq_shared.connect(settings["KD_REDIS_URL"])
    queue = Queue(settings["KD_RQ_QUEUE"], connection=redis)
    worker = RunWorker([queue], connection=redis, name=name,
                       job_monitoring_interval=int(settings["KD_WORKER_HEARTBEAT_S"]))
    return worker.work(burst=burst, logging_level="INFO")
