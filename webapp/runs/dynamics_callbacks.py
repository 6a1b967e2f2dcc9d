"""The Keras callbacks of the training dynamics: `TrainingDynamics` (record, warn, stream, stop on NaN) and the range test.

Runs inside a trainer process only: it imports Keras. Both read a model's `fit_dynamics.Probe`
after a recorded or failed step only, never otherwise; what they record is runs/dynamics.py's
document, runs/dynamics_warnings.py's warnings and runs/lr_range.py's answer.
"""

import logging
import math
import time
from pathlib import Path

import keras
import numpy as np

from . import dynamics, dynamics_warnings, lr_range
from .fit_dynamics import FAILED, RECORDED
from .paths import atomic_write, json_text, read_json

log = logging.getLogger(__name__)


class TrainingDynamics(keras.callbacks.Callback):
    """Records the probe's figures every `every` steps, warns, sends them as `run_dynamics`, and stops on a NaN.

    Args:
        probe: the model's fit_dynamics.Probe (`instrument(model, every)`).
        publish: called as publish("dynamics", payload) with what is new (runs/dynamics.since); it
            must not block (the trainer's publisher queues it).
        path: the document's file (`dynamics.FILE` in the run's folder), written at each epoch end
            and when training ends; a continued run goes on from it.
        most: the most records kept (KD_DYNAMICS_MAX_STEPS): past it `every` doubles (dynamics.thin).
        stop_on_nan: a non-finite loss or gradient stops fit with `failure` set (a range test only stops).
        per_second: the most events sent in a second (a warning goes at once; each epoch end flushes).

    After fit, `failure` is the `nan` warning's message, or None, and `kept_good_weights` says
    whether the model's weights are all finite (the failing step's update was not applied).

    Example:

    ```python
    probe = fit_dynamics.instrument(model, every=10)
    events = []
    cb = TrainingDynamics(probe, lambda kind, data: events.append(data), folder / dynamics.FILE)
    model.fit(x, y, epochs=2, callbacks=[cb], verbose=0)
    read_json(folder / dynamics.FILE)["steps"][0]["step"]   # 1
    ```
    """

    def __init__(self, probe, publish, path, most=dynamics.MOST, stop_on_nan=True, per_second=4.0):
        super().__init__()
        self.probe, self.publish, self.path, self.most = probe, publish, Path(path), most
        self.stop_on_nan, self.interval = stop_on_nan, 1.0 / per_second
        self.doc = dynamics.empty(probe.every, probe.pairs)
        self.failure, self.kept_good_weights = None, True
        self.epoch = self.k = 0

    def on_train_begin(self, logs=None):
        """Start from the stored document (a continued run), forgetting records from this fit's first step on."""
        self.k = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        every = self.probe.every
        stored = read_json(self.path)
        if stored and [(w["layer"], w["name"]) for w in stored["weights"]] == self.probe.pairs:
            dynamics.drop_from(stored, self.k + 1)
            stored["every"] = max(stored["every"], every)
            self.doc = stored
        else:
            self.doc = dynamics.empty(every, self.probe.pairs)
        self.watch = dynamics_warnings.Watch(dict.fromkeys(self.probe.layers))
        self.sent_step, self.sent_warnings, self.last_sent = dynamics.last_step(self.doc), len(self.doc["warnings"]), 0.0
        self.failure, self.kept_good_weights = None, True
        self._write()

    def on_epoch_begin(self, epoch, logs=None):
        """Note the epoch (Keras counts from 0; records from 1)."""
        self.epoch = epoch + 1

    def on_train_batch_begin(self, batch, logs=None):
        """Before a step to record, make the recorded step fit's train function."""
        if self.k % self.doc["every"] == 0:
            self.model.train_function = self.probe.recorded

    def on_train_batch_end(self, batch, logs=None):
        """Stop on a non-finite loss; after a recorded step, read the probe, record, and go back to the guarded step."""
        k, self.k = self.k, self.k + 1
        recorded = k % self.doc["every"] == 0
        if recorded:
            self.model.train_function = self.probe.plain
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self._stop(k, batch + 1)
        elif recorded:
            state = self.probe.read()
            if state["outcome"] == FAILED:
                self._stop(k, batch + 1, state)
            elif state["outcome"] == RECORDED:
                self._record(k, batch + 1, state)

    def _record(self, k, batch, state):
        dynamics.append(self.doc, {"step": k + 1, "epoch": self.epoch, "batch": batch, "loss": state["loss"],
                                   "learning_rate": state["rate"]}, state["figures"])
        per_layer = dynamics_warnings.layer_figures(self.probe.layers, state["figures"])
        dead = {name: units == 0 for name, units in state["units"].items()}
        found = self.watch.add(self.epoch, batch, k + 1, per_layer, dead)
        self.doc["warnings"] += found
        dynamics.thin(self.doc, self.most)
        self._send(force=bool(found))

    def _stop(self, k, batch, state=None):
        """End fit: a range test's loss ran away, or a run fails with the `nan` warning."""
        self.model.stop_training = True
        if not self.stop_on_nan or self.failure:
            return
        state = state or self.probe.read()
        finite = state["finite"] if state["outcome"] == FAILED else np.ones((len(self.probe.layers), 2), bool)
        layers = self.probe.layers
        bad_gradient = next((layers[i] for i in reversed(range(len(layers))) if not finite[i, 0]), None)
        bad_weight = next((layers[i] for i in range(len(layers)) if not finite[i, 1]), None)
        loss = state["loss"] if state["outcome"] == FAILED else float("nan")
        largest = None
        if state["outcome"] == FAILED and not bad_gradient:
            per_layer = dynamics_warnings.layer_figures(layers, state["figures"])
            name = max(per_layer, key=lambda k: per_layer[k][0])
            largest = (name, per_layer[name][0])
        warning = dynamics_warnings.nan_warning(self.epoch, batch, k + 1, loss, bad_gradient, bad_weight, largest)
        self.doc["warnings"].append(warning)
        self.failure, self.kept_good_weights = warning["message"], bad_weight is None
        self._send(force=True)

    def _send(self, force=False):
        """Publish what is new, at most `per_second` times a second unless forced."""
        now = time.perf_counter()
        fresh = dynamics.last_step(self.doc) > self.sent_step or len(self.doc["warnings"]) > self.sent_warnings
        if not fresh or (not force and now - self.last_sent < self.interval):
            return
        self.publish("dynamics", dynamics.since(self.doc, self.sent_step, self.sent_warnings))
        self.sent_step, self.sent_warnings, self.last_sent = dynamics.last_step(self.doc), len(self.doc["warnings"]), now

    def on_epoch_end(self, epoch, logs=None):
        """Send what is left and write the document (before Progress reports the epoch, which prunes the events)."""
        self._send(force=True)
        self._write()

    def on_train_end(self, logs=None):
        """Send what is left, write the document, and leave the guarded step as the train function."""
        self.model.train_function = self.probe.plain
        self.on_epoch_end(self.epoch - 1)

    def _write(self):
        try:
            atomic_write(self.path, lambda p: Path(p).write_text(json_text(self.doc)))
        except Exception:   # a missing record must not end the training
            log.exception("could not write the training dynamics to %s", self.path)


class LearningRateRangeTest(keras.callbacks.Callback):
    """Raises the learning rate exponentially from min_lr to max_lr, one rate a batch, until `steps` or a runaway loss.

    Smith (2017), "Cyclical Learning Rates for Training Neural Networks", section 3.3. The loss of
    each batch is the probe's (the model is instrumented with every=1); the test stops when the
    smoothed loss passes lr_range.RUNAWAY times its lowest or a loss is not finite, and writes
    lr_range.result to `path` when training ends.

    Args:
        probe: the model's fit_dynamics.Probe, recording every step.
        path: the JSON file to write (`lr_range.FILE` in the run's folder).
        min_lr, max_lr, steps: the spec's fit.find_lr.

    Example:

    ```python
    probe = fit_dynamics.instrument(model, every=1)
    test = LearningRateRangeTest(probe, folder / lr_range.FILE, 1e-5, 1.0, 100)
    model.fit(x, y, epochs=1, steps_per_epoch=100, callbacks=[test], verbose=0)
    test.result["suggested"]
    ```
    """

    def __init__(self, probe, path, min_lr, max_lr, steps):
        super().__init__()
        self.probe, self.path = probe, Path(path)
        self.min_lr, self.max_lr, self.steps = min_lr, max_lr, steps
        self.lrs, self.losses, self.result = [], [], None

    def on_train_begin(self, logs=None):
        """Start with no rates tried."""
        self.lrs, self.losses, self.result = [], [], None

    def on_train_batch_begin(self, batch, logs=None):
        """Set this batch's rate."""
        rate = lr_range.rate(self.min_lr, self.max_lr, self.steps, len(self.lrs))
        self.model.optimizer.learning_rate = rate
        self.lrs.append(rate)

    def on_train_batch_end(self, batch, logs=None):
        """Keep the batch's loss; stop at the last rate or once the loss runs away."""
        state = self.probe.read()
        self.losses.append(state["loss"] if state["outcome"] == RECORDED else float("nan"))
        if len(self.losses) >= self.steps or lr_range.runaway(self.losses):
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        """Write the losses per rate and the suggested rate."""
        self.result = lr_range.result(self.lrs[:len(self.losses)], self.losses)
        atomic_write(self.path, lambda p: Path(p).write_text(json_text(self.result)))
