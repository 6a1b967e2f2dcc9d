"""The Keras callback that reports a run's progress and obeys its stop flag.

Runs inside the trainer process only (it imports Keras).
"""

import math
import time

import keras


class Progress(keras.callbacks.Callback):
    """Reports every epoch and at most `per_second` batch updates a second; stops when asked.

    Args:
        publish: called as publish("batch", data) and publish("epoch", data); it must not block
            (the trainer's publisher queues and stores events on its own thread).
        should_stop: returns True once the user asked the run to stop; the callback then sets
            `model.stop_training = True`, so fit ends after the current batch.
        batch_size: samples per batch, for samples/s.
        per_second: the most batch updates sent in a second (the last batch of an epoch always is).

    Example:

    ```python
    events = []
    progress = Progress(lambda kind, data: events.append((kind, data)), lambda: False, batch_size=32)
    model.fit(x, y, epochs=2, batch_size=32, callbacks=[progress], verbose=0)
    assert [d["epoch"] for k, d in events if k == "epoch"] == [1, 2]
    ```
    """

    def __init__(self, publish, should_stop, batch_size, per_second=4.0):
        super().__init__()
        self.publish = publish
        self.should_stop = should_stop
        self.batch_size = batch_size
        self.interval = 1.0 / per_second
        self.nan_at = None          # (epoch, batch) where the loss first became NaN
        self.stopped_by_user = False
        self._epoch = 0
        self._epoch_start = self._last_sent = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        """Start timing the epoch (Keras counts from 0; events count from 1)."""
        self._epoch = epoch + 1
        self._epoch_start = time.perf_counter()
        self._last_sent = 0.0

    def on_train_batch_end(self, batch, logs=None):
        """Stop when asked, note a NaN loss, and send a throttled progress update."""
        if not self.stopped_by_user and self.should_stop():
            self.stopped_by_user = True
            self.model.stop_training = True
        loss = (logs or {}).get("loss")
        if self.nan_at is None and loss is not None and not math.isfinite(float(loss)):
            self.nan_at = (self._epoch, batch + 1)
        now = time.perf_counter()
        steps = self.params.get("steps") or 0
        last = steps and batch + 1 >= steps
        if not last and now - self._last_sent < self.interval:
            return
        self._last_sent = now
        elapsed = max(now - self._epoch_start, 1e-9)
        done = batch + 1
        self.publish("batch", {
            "epoch": self._epoch, "batch": done, "steps": steps, "logs": dict(logs or {}),
            "samples_per_s": round(done * self.batch_size / elapsed, 1),
            "eta_s": round(elapsed / done * max(steps - done, 0), 1) if steps else None,
            "sent_at": time.time(),
        })

    def on_epoch_end(self, epoch, logs=None):
        """Send the epoch's logs: every Keras log key, plus the learning rate as Keras names it."""
        logs = dict(logs or {})
        if "learning_rate" not in logs and self.model.optimizer is not None:
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        self.publish("epoch", {"epoch": epoch + 1, "logs": logs, "sent_at": time.time()})
