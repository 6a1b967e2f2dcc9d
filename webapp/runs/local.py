"""The embedded executor: each run trains in a fresh *spawned* process; a warm spare waits ready.

TensorFlow is not fork-safe once started, and only a process exit gives its memory back, so every
run gets a new process from the "spawn" start method. Spawning and importing TensorFlow takes
seconds; a spare process that has already done so takes the next run at once.

Parent and child talk over one pipe. Child -> parent: ("ready",), ("event", name, data) for events
the child has already stored, ("checked", number, answer). Parent -> child: ("check", number,
spec, dataset) while it is the spare (a model check for a web process that has not imported
TensorFlow yet), ("train", run_id, settings), ("stop",).
"""

import logging
import multiprocessing
import queue
import threading
import time

log = logging.getLogger(__name__)
_spawn = multiprocessing.get_context("spawn")


def child_main(conn):
    """A trainer process: import TensorFlow, say ready, train the run it is given (with the server's settings), then exit."""
    import os
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C on the server is the server's, not ours
    from ..modelspec import build
    from . import startup, trainer

    build.init_keras(gpu=True)
    if not conn.poll():   # a run or a check waiting already would wait longer for the warm-up than it saves
        startup.warm_up(conn.poll)   # first-time costs of a run's start, paid on throwaway data while nobody waits
    try:
        conn.send(("ready",))
        while (message := conn.recv())[0] == "check":
            conn.send(("checked", message[1], startup.check(*message[2:])))
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
    trainer.train(message[1], message[2], send, stop.is_set)
    os._exit(0)   # skip TensorFlow's slow and sometimes noisy teardown


_prestarted = None


def prestart():
    """Spawn the first spare now: `python wsgi.py` calls this before it imports and builds its app (~2 s).

    The spare's TensorFlow import (~8 CPU s) is what a run posted soon after start waits for, so it
    begins at once; the LocalExecutor takes this process as its spare when it first warms one.
    """
    global _prestarted
    _prestarted = Slot()


def _take_prestarted():
    global _prestarted
    slot, _prestarted = _prestarted, None
    return slot if slot is not None and slot.process.is_alive() else None


class Slot:
    """One trainer process, its pipe, and the run it trains (None while it is the spare)."""

    def __init__(self):
        self.conn, child_conn = _spawn.Pipe()
        self.process = _spawn.Process(target=child_main, args=(child_conn,), daemon=True,
                                      name="kd-trainer")
        self.process.start()
        child_conn.close()
        self.run_id = None
        self.ready = threading.Event()
        self.killed = False
        self._send_lock, self.check_lock = threading.Lock(), threading.Lock()
        self.asked = 0                 # the number of the last check sent
        self.answers = queue.Queue()   # the child's (number, answer) of checks; None once its pipe closed

    def send(self, message):
        """Send a message to the child (requests and the executor write from different threads)."""
        with self._send_lock:
            self.conn.send(message)

    def answer(self, number, timeout, give_up):
        """Give the answer to check `number`, or None if the child ended, `give_up()` or `timeout` s passed."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                item = self.answers.get(timeout=min(left, 0.25))
            except queue.Empty:
                if give_up():
                    return None
                continue
            if item is None:
                self.answers.put(None)   # for whoever asks next
                return None
            if item[0] == number:   # an answer to an earlier check that timed out is dropped
                return item[1]
        return None


class LocalExecutor:
    """Trains runs in spawned processes and relays their events to the service.

    on_event(event): a stored event to send to viewers. on_exit(run_id, note): the process of a run
    ended (note says how, when it was not a normal exit). grace_s: how long a stop may take before
    the process is killed. warm: keep a spare process ready.
    """

    def __init__(self, settings, on_event, on_exit, grace_s=30.0, warm=True):
        self.settings = {k: settings.get(k) for k in ("KD_DATA_DIR", "KD_DATABASE_URL", "KD_TIME_CALLBACKS",
                                                             "KD_DYNAMICS_MAX_STEPS")}
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
            slot.send(("train", run_id, self.settings))

    def check(self, spec, dataset, give_up=lambda: False, timeout=120.0):
        """Have the spare check a spec (build.summarize in its process); give its answer, or None if no spare can.

        For a web process still without TensorFlow: the spare has it, and answers in milliseconds
        once it is ready. The answer is ("ok", summary) or ("invalid", [FieldError]); None also
        once `give_up()` (the web process's own import finished first).
        """
        slot = self._spare
        if slot is None:
            return None
        with slot.check_lock:   # one check at a time per spare
            with self._lock:    # sent while the slot is still the spare: a run's "train" can only come after
                if self._spare is not slot or not slot.process.is_alive():
                    return None
                slot.asked += 1
                try:
                    slot.send(("check", slot.asked, spec, dataset))
                except OSError:
                    return None
            answer = slot.answer(slot.asked, timeout, give_up)
        return answer if answer and answer[0] in ("ok", "invalid") else None

    def stop(self, run_id):
        """Ask the run's process to stop after its current batch; kill it after the grace period."""
        slot = self._slots.get(run_id)
        if slot is None:
            return
        try:
            slot.send(("stop",))
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
        slot = _take_prestarted() or Slot()
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
                elif message[0] == "checked":
                    slot.answers.put(message[1:])
        except (EOFError, OSError):
            pass
        slot.answers.put(None)   # a check still waiting gives up: the web process checks it itself
        slot.process.join(timeout=10)
        code = slot.process.exitcode
        with self._lock:
            # A run continued right after it ended may have a new process already (Continue pressed
            # as the old one tears down): that one is the run's now, and this exit is not its end.
            superseded = self._slots.get(slot.run_id, slot) is not slot
            if not superseded:
                self._slots.pop(slot.run_id, None)
            if self._spare is slot:
                self._spare = None
        if slot.run_id is None:
            log.warning("the spare trainer process ended with exit code %s", code)
            return
        if not superseded:
            # A trainer that returns has published its run's end itself (trainer.train ends in a status
            # event, whatever happened), so exit code 0 says nothing about the run, which may already be
            # continued and queued or running again in a new process: only the next one is scheduled.
            clean = code == 0 and not slot.killed
            self.on_exit(slot.run_id, None if clean else _exit_note(code, slot.killed, self.grace_s))


def _exit_note(code, killed, grace_s):
    if killed:
        return f"The run did not stop within {grace_s:g} s, so its process was killed; the last saved epoch is kept."
    if code is not None and code < 0:
        return (f"The training process was killed by signal {-code}"
                f"{' (out of memory?)' if -code == 9 else ''}; the last saved epoch is kept.")
    return f"The training process ended unexpectedly (exit code {code})."
