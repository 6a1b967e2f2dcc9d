"""The time a run's fit callbacks and its event publisher take, summed per epoch (KD_TIME_CALLBACKS=1).

bench/runs.py turns it on to show what each part of the dashboard costs an epoch. Off (the
default) nothing is wrapped and nothing is written. When on, the trainer wraps every hook a
callback overrides (a hook Keras's Callback leaves as is stays unwrapped, so Keras dispatches the
list exactly as without timing), and after each epoch writes `hook_times.json` in the run's folder:
{"epochs": [{"epoch", "wall_s", "parts": {PART: {"wall_s", "cpu_s"}}}]}, PART being
"Class.hook" or "publisher" (the journal and the send, on the publisher's thread).
No Keras import: callbacks are duck-typed.
"""

import functools
import json
import threading
import time
from collections import defaultdict
from pathlib import Path

from .paths import atomic_write

FILE = "hook_times.json"
HOOKS = ("on_train_begin", "on_epoch_begin", "on_train_batch_begin", "on_train_batch_end", "on_batch_end",
         "on_test_begin", "on_test_batch_end", "on_test_end", "on_epoch_end", "on_train_end")


class HookTimes:
    """Sums wall and CPU seconds per part; `wrap` times callbacks, `timed` times any call.

    A callback's hook runs on the training thread while training waits, and the work it asks of
    TensorFlow (a predict, reading weights to save) runs on TensorFlow's own threads: its CPU is the
    process's. A part with a thread of its own (the publisher), running beside the training, counts
    its thread's CPU only.

    Args:
        folder: the run's folder, where FILE is written after every epoch.

    Example:

    ```python
    times = HookTimes(folder)
    publisher.handle = times.timed("publisher", publisher.handle)
    model.fit(x, y, callbacks=[keras.callbacks.LambdaCallback(on_epoch_begin=lambda e, logs: times.epoch_began()),
                               *times.wrap(callbacks),
                               keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: times.epoch_ended(e))])
    load(folder)["epochs"][0]["parts"]["SaveEveryEpoch.on_epoch_end"]   # {"wall_s": ..., "cpu_s": ...}
    ```
    """

    def __init__(self, folder):
        self.path = Path(folder) / FILE
        self._lock = threading.Lock()
        self._parts = defaultdict(lambda: [0.0, 0.0])
        self._epochs = []
        self._epoch_start = None

    def add(self, part, wall, cpu):
        """Add wall and CPU seconds to a part of the current epoch."""
        with self._lock:
            sums = self._parts[part]
            sums[0] += wall
            sums[1] += cpu

    def timed(self, part, fn, clock=time.thread_time):
        """Give fn wrapped so that each call's wall and CPU time (by `clock`) is added to `part`."""
        @functools.wraps(fn)
        def call(*args, **kwargs):
            wall, cpu = time.perf_counter(), clock()
            try:
                return fn(*args, **kwargs)
            finally:
                self.add(part, time.perf_counter() - wall, clock() - cpu)
        return call

    def wrap(self, callbacks):
        """Time every hook each callback overrides (on the instance); give the same callbacks."""
        for cb in callbacks:
            for hook in HOOKS:
                method = getattr(cb, hook, None)
                if method is None or getattr(method, "_is_default", False):
                    continue
                setattr(cb, hook, self.timed(f"{type(cb).__name__}.{hook}", method, time.process_time))
        return callbacks

    def epoch_began(self):
        """Note an epoch's start (the first callback's on_epoch_begin calls this)."""
        self._epoch_start = time.perf_counter()

    def epoch_ended(self, epoch):
        """Close the epoch's sums (Keras counts from 0; the file from 1) and write the file."""
        with self._lock:
            parts = {k: {"wall_s": round(v[0], 6), "cpu_s": round(v[1], 6)} for k, v in self._parts.items()}
            self._parts.clear()
        wall = time.perf_counter() - self._epoch_start if self._epoch_start else None
        self._epochs.append({"epoch": epoch + 1, "wall_s": wall, "parts": parts})
        atomic_write(self.path, lambda p: Path(p).write_text(json.dumps({"epochs": self._epochs})))


def load(folder):
    """Give the hook times a run wrote (see the module docstring), or None."""
    path = Path(folder) / FILE
    return json.loads(path.read_text()) if path.exists() else None
