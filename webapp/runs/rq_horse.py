"""A warm work-horse for an RQ worker: a process that has imported TensorFlow before its job comes.

RQ's SpawnWorker starts each work-horse as `python -c SOURCE` (os.posix_spawn), where SOURCE
rebuilds the worker, the job and its execution and calls `main_work_horse`. A fresh work-horse
spends seconds importing TensorFlow before its run's first batch: most of the gap between one sweep
trial's end and the next one's first batch under RQ (bench/sweeps.py). So RunWorker keeps one spare
of this module's process, spawned ahead: it imports the trainer and warms up (startup.warm_up)
while the worker waits or its current run trains, then reads from its stdin the SOURCE and the
environment RQ would have spawned a work-horse with, and runs that SOURCE: RQ's own code, never a
user's. From then on it is the job's work-horse like any other: RQ waits for it, kills its process
group on a stop, reads its exit status. One process per run still: it performs one job and exits.
A spare that gets no job (its stdin closed: the worker shut down or died) exits unused.
"""

import json
import os
import select
import stat
import sys


def waiting():
    """Say whether a job (or the end of stdin) has come, so warm-up gives way to it."""
    return bool(select.select([sys.stdin], [], [], 0)[0])


def main():
    """Warm up, then be the work-horse of the job the worker hands over (see the module)."""
    from . import startup, trainer  # noqa: F401  (TensorFlow, Keras and the trainer: the seconds a fresh horse pays)

    # The order can come from the worker alone: stdin is the pipe it spawned this process with, and
    # it holds the only write end. Anything else on stdin (a terminal, a file) is refused unread.
    if not stat.S_ISFIFO(os.fstat(0).st_mode):
        sys.exit("rq_horse runs only as an RQ worker's spare work-horse, with the worker's pipe on stdin.")
    startup.warm_up(interrupted=waiting)
    order = sys.stdin.buffer.read()
    if not order.strip():   # the worker ended without a job for it
        return 0
    order = json.loads(order)
    os.environ.clear()
    os.environ.update(order["env"])
    # RQ's own SOURCE, built by SpawnWorker.fork_work_horse in the worker: never a user's text.
    exec(compile(order["source"], "<rq work-horse>", "exec"), {"__name__": "__main__"})   # noqa: S102
    return 0


if __name__ == "__main__":
    sys.exit(main())
