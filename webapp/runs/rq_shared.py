"""What both sides of the RQ executor share: settings, Redis names, the event emitter, `fail_run`.

The web side (runs/rq.py) and the worker side (runs/rq_worker.py) both import this module and
never each other. No Flask: events go out through python-socketio's write-only RedisManager on
KD_SOCKETIO_CHANNEL, the queue every web instance's Flask-SocketIO listens to (web/message_queue.py)
and forwards to the run's room on its own sockets.
"""

import socketio
from redis import Redis
from rq.exceptions import NoSuchJobError
from rq.job import Job

from ..db.store import Run
from . import journal

# The web layer's names (web/events.py; a test checks they agree): the namespace and a run's room.
NAMESPACE = "/runs"
SETTINGS = ("KD_DATA_DIR", "KD_DATABASE_URL", "KD_REDIS_URL", "KD_RQ_QUEUE", "KD_SOCKETIO_CHANNEL",
            "KD_RUN_TIMEOUT_S", "KD_WORKER_HEARTBEAT_S", "KD_STOP_GRACE_S", "KD_WARM_SPARE", "KD_DYNAMICS_MAX_STEPS")
_settings = {}


def room(run_id):
    """Give the name of a run's Socket.IO room."""
    return f"run:{run_id}"


def configure(settings):
    """Keep this process's settings for what RQ calls without them (callbacks, work-horses); give them."""
    _settings.update({k: settings[k] for k in SETTINGS})
    return dict(_settings)


def settings():
    """Give this process's settings: those `configure` kept, else the KD_* environment."""
    if not _settings:
        from .. import config

        configure(config.load())
    return dict(_settings)


def connect(url):
    """Give a Redis connection for `url`."""
    return Redis.from_url(url)


def job_id(run):
    """Give the RQ job id of a run's current queueing: a continued run gets a new job."""
    return f"kd-run-{run.id}-{run.queued_at.strftime('%Y%m%d%H%M%S%f')}"


def stop_key(run_id):
    """Give the Redis key whose presence asks a run to stop (its value: the grace period in s)."""
    return f"kd:run:{run_id}:stop"


def current_job(redis, store, run_id):
    """Give the RQ job of a run's current queueing, or None."""
    with store.session() as s:
        run = s.get(Run, run_id)
    try:
        return Job.fetch(job_id(run), connection=redis) if run else None
    except NoSuchJobError:
        return None


class Emitter:
    """Sends stored events to every web instance's viewers through Socket.IO's Redis message queue.

    Write-only (no listening thread, no server): it publishes on `channel` what Flask-SocketIO's
    own `emit` would, and every web instance listening there sends the event to the run's room.
    """

    def __init__(self, redis_url, channel):
        self.manager = socketio.RedisManager(redis_url, channel=channel, write_only=True)

    def __call__(self, event):
        """Send one stored (name, data) event to its run's room."""
        if event:
            name, data = event
            self.manager.emit(name, data, namespace=NAMESPACE, room=room(data["run_id"]))


def fail_run(store, settings, run_id, message, for_job=None):
    """Move a run that is still training to failed (stopped, if a stop was asked) and emit it.

    for_job: a job id; act only while that job is the run's current one (not once it was continued).
    """
    with store.session() as s:
        run = s.get(Run, run_id)
    if run is None or run.status not in journal.ACTIVE or for_job not in (None, job_id(run)):
        return
    status = "stopped" if run.status == "stopping" else "failed"
    Emitter(settings["KD_REDIS_URL"], settings["KD_SOCKETIO_CHANNEL"])(journal.set_status(store, run_id, status, message))

