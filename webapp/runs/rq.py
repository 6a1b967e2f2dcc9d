"""The distributed executor (KD_EXECUTOR=rq): each run is an RQ job on Redis, trained by a worker.

Web side, here: every queued run is enqueued at once on the queue KD_RQ_QUEUE (workers, not
KD_MAX_CONCURRENT_RUNS, bound how many train); the run stays `queued` until a worker's work-horse
takes it and marks it running. A stop sets a Redis key the work-horse polls; after
KD_STOP_GRACE_S, RQ's stop-job command kills the work-horse. A watchdog thread runs RQ's own
StartedJobRegistry cleanup every KD_WORKER_HEARTBEAT_S, so the run of a worker whose heartbeat
lapsed fails (see rq_worker.on_failure).

Worker side: runs/rq_worker.py; what both sides share (settings, job ids, stop keys, the emitter,
`fail_run`) is in runs/rq_shared.py, so neither imports the other. Events reach viewers through
Socket.IO's Redis message queue, emitted by whichever process stored them. No Flask.
"""

import logging
import threading

from redis import RedisError
from rq import Callback, Queue
from rq.command import send_stop_job_command
from rq.exceptions import DuplicateJobError, InvalidJobOperation, NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry
from rq.timeouts import TimerDeathPenalty
from sqlalchemy import select

from ..db.store import Run, utcnow
from .rq_shared import configure, connect, current_job, fail_run, job_id, stop_key
from .service import RunService

log = logging.getLogger(__name__)

class RQExecutor:
    """Enqueues runs as RQ jobs, stops them through Redis, and watches for workers that died."""

    def __init__(self, settings, store):
        self.settings, self.store = configure(settings), store
        self.redis = connect(settings["KD_REDIS_URL"])
        self.queue = Queue(settings["KD_RQ_QUEUE"], connection=self.redis)
        self.grace_s = float(settings["KD_STOP_GRACE_S"])
        self.beat_s = int(settings["KD_WORKER_HEARTBEAT_S"])
        self._closed = threading.Event()
        self._watchdog = None

    def enqueue(self, run):
        """Put a queued run on the RQ queue once (any web instance may try: the job id decides)."""
        try:
            self.queue.enqueue("webapp.runs.rq_worker.train_job", run.id, job_id=job_id(run), unique=True,
                               job_timeout=int(self.settings["KD_RUN_TIMEOUT_S"]), result_ttl=600,
                               failure_ttl=7 * 24 * 3600, description=f"run {run.id}: {run.name}",
                               on_failure=Callback("webapp.runs.rq_worker.on_failure"))
        except DuplicateJobError:
            pass

    def enqueue_waiting(self):
        """Enqueue every queued run, oldest first (again, if its job was lost with Redis's data)."""
        with self.store.session() as s:
            waiting = list(s.scalars(select(Run).where(Run.status == "queued").order_by(Run.queued_at, Run.id)))
        for run in waiting:
            self.enqueue(run)

    def start(self, run_id):
        """Enqueue `run_id` (RunService's name for handing a run over)."""
        with self.store.session() as s:
            run = s.get(Run, run_id)
        if run is not None:
            self.enqueue(run)

    def stop(self, run_id):
        """Ask the run's work-horse to stop after its batch; kill it with RQ's stop-job after the grace."""
        self.redis.set(stop_key(run_id), self.grace_s, ex=24 * 3600)
        timer = threading.Timer(self.grace_s, self._hard_stop, args=(run_id,))
        timer.daemon = True
        timer.start()

    def _hard_stop(self, run_id):
        """Kill the work-horse of a run still stopping after the grace period (RQ's stop-job command)."""
        with self.store.session() as s:
            run = s.get(Run, run_id)
        if run is None or run.status != "stopping":
            return
        job = current_job(self.redis, self.store, run_id)
        try:
            if job is not None:
                send_stop_job_command(self.redis, job.id)
        except (InvalidJobOperation, NoSuchJobError, RedisError) as exc:
            log.warning("could not stop the job of run %s: %s", run_id, exc)

    def warm(self):
        """Start the watchdog (once): every beat, RQ's cleanup of started jobs whose worker stopped
        beating, then runs whose job ended without ending them, then queued runs without a job."""
        if self._watchdog is None:
            self._watchdog = threading.Thread(target=self._watch, name="kd-rq-watchdog", daemon=True)
            self._watchdog.start()

    def _watch(self):
        """Every beat until shutdown: clean up abandoned jobs, fail lost runs, enqueue waiting ones."""
        while not self._closed.wait(self.beat_s):
            try:
                # Abandoned jobs go to the failed registry and their on_failure callback fails the run
                # (with a thread-safe timeout: RQ's default one needs the main thread's signals).
                StartedJobRegistry(queue=self.queue, death_penalty_class=TimerDeathPenalty).cleanup()
                self._fail_lost_runs()
                self.enqueue_waiting()
            except Exception:   # Redis or the database away for a moment: try again next beat
                log.exception("the RQ watchdog could not check the started jobs")

    def _fail_lost_runs(self):
        """Fail training runs whose RQ job ended (or vanished) a while ago without ending the run."""
        with self.store.session() as s:
            active = list(s.scalars(select(Run).where(Run.status.in_(("running", "stopping")))))
        for run in active:
            try:
                job = Job.fetch(job_id(run), connection=self.redis)
            except NoSuchJobError:
                job = None
            if job is not None and job.get_status() not in (JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STOPPED,
                                                            JobStatus.CANCELED):
                continue
            ended = job.ended_at if job is not None else None
            if ended is not None and (utcnow() - ended).total_seconds() < 3 * self.beat_s:
                continue   # its worker is settling it right now
            fail_run(self.store, self.settings, run.id, "The worker training this run lost track of it "
                     "(its job ended or vanished from Redis); the last saved epoch is kept.", job_id(run))

    def pid(self, run_id):
        """Give None: a run's process is on a worker machine."""
        return None

    def check(self, spec, dataset, give_up=None):
        """Give None: no spare trainer beside this web process checks models (LocalExecutor.check); it checks them itself."""
        return None

    def shutdown(self):
        """Stop the watchdog (the web instance is going away; workers go on)."""
        self._closed.set()


class RQRunService(RunService):
    """The run service for RQ: queued runs wait in RQ's queue, and runs outlive web instances."""

    def schedule(self):
        """Enqueue every queued run (again, if its job was lost); a worker marks it running."""
        with self._lock:
            self.executor.enqueue_waiting()

    def start_up(self):
        """Enqueue what waits; running runs are the workers' (the watchdog fails those of dead ones)."""
        self.schedule()

