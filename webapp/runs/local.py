"""The embedded executor: each run trains in a fresh *spawned* process; a warm spare waits ready.

TensorFlow is not fork-safe once started, and only a process exit gives its memory back, so every
run gets a new process from the "spawn" start method. Spawning and importing TensorFlow takes
seconds; a spare process that has already done so takes the next run at once.

Parent and child talk over one pipe. Child -> parent: ("ready",), ("event", name, data) for events
the child has already stored. Parent -> child: ("train", run_id), ("stop",).
"""

import logging
import multiprocessing
import threading

log = logging.getLogger(__name__)
_spawn = multiprocessing.get_context("spawn")


def child_main(conn, settings):
    """A trainer process: import TensorFlow, say ready, train the run it is given, then exit."""
    import os
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C on the server is the server's, not ours
    from . import startup, trainer

    startup.warm_up()   # imports TensorFlow, then pays its one-time costs on a throwaway model
    try:
        conn.send(("ready",))
        message = conn.recv()
    except (EOFError, OSError):   # the server went away while this spare was starting
        return
    if message[0] != "train":
        return
    stop = threading.Event()
    send_lock = threading.Lock()

    def listen():
        try:
            while conn.recv()[0] != "stop":
                pass
        except (EOFError, OSError):
            # The server went away (killed or crashed): end now, not after a last partial epoch
            # stored as "stopped". The run stays running in the database until the next server
            # marks it interrupted; its last finished epoch is saved, so it can be continued.
            os._exit(1)
        stop.set()

    def send(event):
        with send_lock:
            conn.send(("event", *event))

    threading.Thread(target=listen, daemon=True).start()
    trainer.train(message[1], settings, send, stop.is_set)
    os._exit(0)   # skip TensorFlow's slow and sometimes noisy teardown


class Slot:
    """One trainer process, its pipe, and the run it trains (None while it is the spare)."""

    def __init__(self, settings):
        self.conn, child_conn = _spawn.Pipe()
        self.process = _spawn.Process(target=child_main, args=(child_conn, settings), daemon=True,
                                      name="kd-trainer")
        self.process.start()
        child_conn.close()
        self.run_id = None
        self.ready = threading.Event()
        self.killed = False


class LocalExecutor:
    """Trains runs in spawned processes and relays their events to the service.

    on_event(event): a stored event to send to viewers. on_exit(run_id, note): the process of a run
    ended (note says how, when it was not a normal exit). grace_s: how long a stop may take before
    the process is killed. warm: keep a spare process ready.
    """

    def __init__(self, settings, on_event, on_exit, grace_s=30.0, warm=True):
        self.settings = {k: settings.get(k) for k in ("KD_DATA_DIR", "KD_DATABASE_URL", "KD_TIME_CALLBACKS")}
        self.on_event, self.on_exit = on_event, on_exit
        self.grace_s, self.warm_spare = grace_s, warm
        self._spare = None
        self._slots = {}
        self._lock = threading.Lock()

    def warm(self):
        """Spawn the spare process if there is none (it imports TensorFlow in the background)."""
        with self._lock:
            if self.warm_spare and (self._spare is None or not self._spare.process.is_alive()):
                self._spare = self._spawn()

    def start(self, run_id):
        """Train `run_id` in the spare process (or a new one); the service warms the next spare."""
        with self._lock:
            slot, self._spare = self._spare, None
            if slot is None or not slot.process.is_alive():
                slot = self._spawn()
            slot.run_id = run_id
            self._slots[run_id] = slot
            slot.conn.send(("train", run_id))

    def stop(self, run_id):
        """Ask the run's process to stop after its current batch; kill it after the grace period."""
        slot = self._slots.get(run_id)
        if slot is None:
            return
        try:
            slot.conn.send(("stop",))
        except OSError:
            pass
        timer = threading.Timer(self.grace_s, self._kill, args=(slot,))
        timer.daemon = True
        timer.start()

    def pid(self, run_id):
        """Give the process id training `run_id`, or None."""
        slot = self._slots.get(run_id)
        return slot.process.pid if slot else None

    def shutdown(self):
        """Stop every process (the server is going away)."""
        with self._lock:
            slots = list(self._slots.values()) + ([self._spare] if self._spare else [])
        for slot in slots:
            slot.process.kill()

    def _kill(self, slot):
        if slot.process.is_alive():
            slot.killed = True
            slot.process.kill()

    def _spawn(self):
        slot = Slot(self.settings)
        threading.Thread(target=self._relay, args=(slot,), daemon=True, name="kd-relay").start()
        return slot

    def _relay(self, slot):
        """Forward a process's events until its pipe closes, then report how it ended."""
        try:
            while True:
                message = slot.conn.recv()
                if message[0] == "ready":
                    slot.ready.set()
                elif message[0] == "event":
                    self.on_event((message[1], message[2]))
        except (EOFError, OSError):
            pass
        slot.process.join(timeout=10)
        code = slot.process.exitcode
        with self._lock:
            self._slots.pop(slot.run_id, None)
            if self._spare is slot:
                self._spare = None
        if slot.run_id is None:
            log.warning("the spare trainer process ended with exit code %s", code)
            return
        self.on_exit(slot.run_id, _exit_note(code, slot.killed, self.grace_s))


def _exit_note(code, killed, grace_s):
    if killed:
        return f"The run did not stop within {grace_s:g} s, so its process was killed; the last saved epoch is kept."
    if code is not None and code < 0:
        return (f"The training process was killed by signal {-code}"
                f"{' (out of memory?)' if -code == 9 else ''}; the last saved epoch is kept.")
    return f"The training process ended unexpectedly (exit code {code})."
