"""The Keras callbacks a run trains with: progress and stop, the per-epoch save, the gallery sample,
and the inside view's recorders (weight histograms, the sample's probabilities per epoch).

Runs inside a trainer process only: it imports Keras at the top, so import it where Keras is
already loaded (`trainer._fit`, after `build.init_keras(gpu=True)`). Each callback is one small
class, as Keras's own are; `fit_callbacks` gives the list a run's `model.fit` gets, in order. A new
callback is a class here plus a line in `fit_callbacks`.
"""

import logging
import math
import os
import threading
import time
from pathlib import Path

import keras
import numpy as np

from ..predict import inside, predictions
from . import epochs_kept, weight_histograms
from .paths import BEST, MODEL, atomic_write, json_text, read_json

log = logging.getLogger(__name__)


def fit_callbacks(spec, folder, progress, sample=None, recorders=()):
    """Give the fit callbacks: the spec's, the per-epoch save, sample and recorders, then progress.

    folder: the run's folder (paths.run_dir); progress: the run's Progress; sample: its EpochSample;
    recorders: the inside view's (`inside_recorders`). All write before Progress reports the epoch.
    Progress also does what keras.callbacks.TerminateOnNaN does: it reads each batch's loss anyway,
    and a second batch hook would cost every batch again.
    """
    cbs = []
    chosen = spec.fit["callbacks"]
    if chosen.get("checkpoint"):
        cbs.append(AtomicCheckpoint(Path(folder) / BEST, **chosen["checkpoint"]))
    if chosen.get("early_stopping"):
        cbs.append(keras.callbacks.EarlyStopping(**chosen["early_stopping"]))
    if chosen.get("reduce_lr_on_plateau"):
        cbs.append(keras.callbacks.ReduceLROnPlateau(**chosen["reduce_lr_on_plateau"]))
    # The epoch is saved before it is reported: a run interrupted later resumes from it.
    cbs += [SaveEveryEpoch(Path(folder) / MODEL), *([sample] if sample else []), *recorders, progress]
    return cbs


class Progress(keras.callbacks.Callback):
    """Reports every epoch and at most `per_second` batch updates a second; stops when asked or on a NaN loss.

    Args:
        publish: called as publish("batch", data) and publish("epoch", data); it must not block
            (the trainer's publisher queues and stores events on its own thread).
        should_stop: returns True once the user asked the run to stop; the callback then sets
            `model.stop_training = True`, so fit ends after the current batch.
        batch_size: samples per batch, for samples/s.
        per_second: the most batch updates sent in a second (the last batch of an epoch always is).

    A NaN or infinite loss stops `fit` after that batch, as keras.callbacks.TerminateOnNaN does.
    After `fit`, `nan_at` is (epoch, batch) where the loss first became NaN, or None, and
    `stopped_by_user` says whether `should_stop` ended the training.

    Example:

    ```python
    events = []
    progress = Progress(lambda kind, data: events.append((kind, data)), lambda: False, batch_size=32)
    model.fit(x, y, epochs=2, batch_size=32, callbacks=[progress], verbose=0)
    assert [d["epoch"] for k, d in events if k == "epoch"] == [1, 2]
    ```
    """

    # Keras may run batch hooks on its own threads, out of order, when every callback with one says
    # async_safe (never on TensorFlow, whose backend is not thread-safe). Progress is: one lock
    # around its state and the publish, and a batch older than one already reported is not sent.
    # Keras runs every pending batch hook before on_epoch_end, so the last batch is always sent first.
    async_safe = True

    def __init__(self, publish, should_stop, batch_size, per_second=4.0):
        super().__init__()
        self.publish = publish
        self.should_stop = should_stop
        self.batch_size = batch_size
        self.interval = 1.0 / per_second
        self.nan_at = None
        self.stopped_by_user = False
        self._lock = threading.Lock()
        self._epoch = self._sent_batch = 0
        self._epoch_start = self._last_sent = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        """Start timing the epoch (Keras counts from 0; events count from 1)."""
        with self._lock:
            self._epoch, self._sent_batch = epoch + 1, 0
            self._epoch_start = time.perf_counter()
            self._last_sent = 0.0

    def on_train_batch_end(self, batch, logs=None):
        """Stop when asked, note a NaN loss, and send a throttled progress update."""
        with self._lock:
            if not self.stopped_by_user and self.should_stop():
                self.stopped_by_user = True
                self.model.stop_training = True
            done, loss = batch + 1, (logs or {}).get("loss")
            if loss is not None and not math.isfinite(float(loss)) and (self.nan_at is None or (self._epoch, done) < self.nan_at):
                self.nan_at = (self._epoch, done)
                self.model.stop_training = True
            now = time.perf_counter()
            steps = self.params.get("steps") or 0
            last = steps and done >= steps
            if done <= self._sent_batch or (not last and now - self._last_sent < self.interval):
                return
            self._last_sent, self._sent_batch = now, done
            elapsed = max(now - self._epoch_start, 1e-9)
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


class SaveEveryEpoch(keras.callbacks.Callback):
    """Saves the whole model (optimizer state included) after every epoch, atomically.

    A reader (a download, predict-one, a continued run) never sees half a file: the model is
    written beside `path` and moved into place.

    Args:
        path: where the `.keras` file goes (the run's model.keras).

    Example:

    ```python
    model.fit(x, y, epochs=2, callbacks=[SaveEveryEpoch(folder / "model.keras")], verbose=0)
    keras.saving.load_model(folder / "model.keras").optimizer.iterations  # the steps of 2 epochs
    ```
    """

    def __init__(self, path):
        super().__init__()
        self.path = Path(path)

    def on_train_begin(self, logs=None):
        """Make Keras's saving reuse what it works out once per class (see `cache_save_skipsets`)."""
        cache_save_skipsets()

    def on_epoch_end(self, epoch, logs=None):
        """Write the model to a temporary file and move it onto `path` (never weights a NaN has reached)."""
        # Only a fit being stopped can end an epoch with weights that are not finite (a NaN stop), and then the
        # file there, the last epoch's, is the last good model: checked then only, so other epochs pay nothing.
        if self.model.stop_training and not all(np.isfinite(keras.ops.convert_to_numpy(w)).all() for w in self.model.weights):
            return
        atomic_write(self.path, self.model.save)


def cache_save_skipsets():
    """Fill the cache Keras's `model.save` looks in for the attributes it skips on each kind of object.

    Keras 3's `saving_lib.get_attr_skipset` stores what it builds (by constructing a throwaway
    Layer, Optimizer, Metric... and listing its attributes) under "saving_attr_skipset_TYPE" but
    looks under "saving_attr_skiplist_TYPE", so it rebuilds every set on every save: 60 % of the
    CPU of saving a small convnet each epoch (bench/runs.py). The sets depend on the class alone.
    """
    try:
        from keras.src.backend.common import global_state
        from keras.src.saving import saving_lib
    except ImportError:   # another Keras layout: saving works as it is, only slower
        return
    for kind in ("Operation", "Layer", "Functional", "Sequential", "Metric", "Optimizer", "Loss"):
        key = f"saving_attr_skiplist_{kind}"
        if global_state.get_global_attribute(key) is None:
            global_state.set_global_attribute(key, saving_lib.get_attr_skipset(kind))


class AtomicCheckpoint(keras.callbacks.ModelCheckpoint):
    """Keras's ModelCheckpoint, writing to a temporary file that is moved onto `path` when saved.

    Args:
        path: where the best (or every) epoch's `.keras` file goes (the run's best.keras).
        **kwargs: ModelCheckpoint's own: monitor, mode, save_best_only.

    Example:

    ```python
    best = AtomicCheckpoint(folder / "best.keras", monitor="val_loss", save_best_only=True)
    model.fit(x, y, validation_split=0.2, epochs=3, callbacks=[best], verbose=0)
    ```
    """

    def __init__(self, path, **kwargs):
        self.path = Path(path)
        super().__init__(str(self.path.with_name(f".{self.path.stem}.partial.keras")), **kwargs)

    def on_epoch_end(self, epoch, logs=None):
        """Let ModelCheckpoint decide and save, then move what it saved into place."""
        super().on_epoch_end(epoch, logs)
        if os.path.exists(self.filepath):
            os.replace(self.filepath, self.path)


class EpochSample(keras.callbacks.Callback):
    """Predicts a fixed sample of test images after each epoch and saves it for the gallery.

    The gallery of a run in progress shows it, marking images whose prediction changed since the
    epoch before; a continued run compares its first epoch with the file the last one left.

    Args:
        path: the `.npz` to write (the run's predictions.EPOCH_FILE).
        x_test: the test inputs, as the model takes them.
        y_test: the test labels as integers (not one-hot).
        batch_size: images per forward pass: the run's fit.batch_size, so the sample never takes
            more memory than a training step was allowed (default: Keras's predict default, 32).

    Example:

    ```python
    sample = EpochSample(folder / "epoch_sample.npz", x_test, y_test, batch_size=spec.fit["batch_size"])
    model.fit(x, y, epochs=2, callbacks=[sample], verbose=0)
    predictions.Predictions.load(folder / "epoch_sample.npz").epoch  # 2
    ```
    """

    def __init__(self, path, x_test, y_test, batch_size=32):
        super().__init__()
        self.path, self.batch_size = Path(path), batch_size
        self.index = predictions.sample_indexes(len(x_test))
        self.x, self.y = x_test[self.index], np.asarray(y_test)[self.index]
        self.previous = np.full(len(self.index), -1, dtype=np.int64)
        self._predicted = (None, None)   # (epoch, the model's output on the sample)

    def predict(self, model, epoch):
        """Give the model's output on the sample at this epoch, predicted once however many callbacks ask."""
        if self._predicted[0] != epoch:
            self._predicted = (epoch, predict_in_batches(model, self.x, self.batch_size))
        return self._predicted[1]

    def on_train_begin(self, logs=None):
        """Start from the predictions the last epoch left (a continued run), else from none."""
        self.previous = np.full(len(self.index), -1, dtype=np.int64)
        if self.path.exists():
            old = predictions.Predictions.load(self.path)
            if np.array_equal(old.index, self.index):
                self.previous = old.predicted

    def on_epoch_end(self, epoch, logs=None):
        """Predict the sample and save it with the previous epoch's predictions beside it."""
        try:
            arrays = predictions.arrays(self.predict(self.model, epoch), self.y, epoch + 1, self.index)
            arrays["previous"] = self.previous
            atomic_write(self.path, lambda p: np.savez(p, **arrays))
            self.previous = arrays["predicted"]
        except Exception:  # a missing gallery sample must not end the training
            log.exception("could not save the epoch sample predictions to %s", self.path)


def predict_in_batches(model, x, batch_size):
    """Give the model's outputs for x, predicted `batch_size` samples at a time (what model.predict gives).

    Keras's compiled predict step on slices, not `model.predict(x, batch_size=...)`: that builds a
    data pipeline on every call, 50-70 ms of CPU for the 100-image sample against 3 ms here, paid
    every epoch. The slices keep what one forward pass holds to a training batch's worth.
    """
    return np.concatenate([np.asarray(model.predict_on_batch(x[start:start + batch_size]))
                           for start in range(0, max(len(x), 1), batch_size)])


def inside_recorders(folder, x_test, predict=None):
    """Give the inside view's callbacks: weight histograms, and the epoch sample's probabilities.

    predict: the run's `EpochSample.predict`, so the sample (the same images) is predicted once an epoch.
    """
    index = predictions.sample_indexes(len(x_test))
    return [WeightHistograms(Path(folder) / weight_histograms.FILE),
            SampleProbabilities(Path(folder) / inside.LEARNING_FILE, x_test[index], index, predict)]


class WeightHistograms(keras.callbacks.Callback):
    """Records a fixed-bin histogram of every weight tensor of every layer at each epoch end.

    Cheap: one copy of the weights and one `np.histogram` per tensor per epoch, never per batch; at
    most `epochs_kept.MOST` epochs are kept per tensor (weight_histograms.record), so the file's
    rewrite each epoch costs the same at epoch 1,000 as at epoch 32.

    Args:
        path: the JSON file to write (`weight_histograms.FILE` in the run's folder); a continued
            run appends to what is there.
        bins: bins per tensor (the same at every epoch; the edges follow the values' range).

    Example:

    ```python
    hist = WeightHistograms(folder / "histograms.json")
    model.fit(x, y, epochs=2, callbacks=[hist], verbose=0)
    doc = read_json(folder / "histograms.json")
    assert [e["epoch"] for e in doc["layers"][0]["weights"][0]["epochs"]] == [1, 2]
    ```
    """

    def __init__(self, path, bins=weight_histograms.BINS):
        super().__init__()
        self.path, self.bins = Path(path), bins
        self.doc = weight_histograms.empty()

    def on_train_begin(self, logs=None):
        """Start from the epochs already recorded (a continued run), else from none."""
        self.doc = read_json(self.path) or weight_histograms.empty()

    def on_epoch_end(self, epoch, logs=None):
        """Record every layer's weights (Keras counts epochs from 0; the file from 1)."""
        try:
            layers = [(layer.name, [(w.name, keras.ops.convert_to_numpy(w)) for w in layer.weights])
                      for layer in self.model.layers if layer.weights]
            weight_histograms.record(self.doc, epoch + 1, layers, self.bins)
            atomic_write(self.path, lambda p: Path(p).write_text(json_text(self.doc)))
        except Exception:  # a missing histogram must not end the training
            log.exception("could not record the weight histograms to %s", self.path)


class SampleProbabilities(keras.callbacks.Callback):
    """Predicts a fixed sample of test images at each epoch end and keeps its probabilities per epoch.

    The inside view of a sample image draws them as the "watch it learn" strip: this image's class
    probabilities epoch by epoch. At most `epochs_kept.MOST` epochs are kept (the first, the last,
    the rest evenly thinned), so the file stays small however long the run.

    Args:
        path: the .npz file to write (`inside.LEARNING_FILE` in the run's folder).
        x: the sample's images, as the model takes them.
        index: their positions in the test split.
        predict: predict(model, epoch) gives the model's output on `x` (default: in batches of 32);
            the trainer passes its EpochSample's, which predicts the same images at the run's batch size.

    Example:

    ```python
    cb = SampleProbabilities(folder / inside.LEARNING_FILE, x_test[:10], np.arange(10))
    model.fit(x, y, epochs=2, callbacks=[cb], verbose=0)
    assert inside.learning(folder, 3)["epochs"] == [1, 2]
    ```
    """

    def __init__(self, path, x, index, predict=None):
        super().__init__()
        self.path, self.x, self.index = Path(path), x, np.asarray(index, dtype=np.int64)
        self.predict = predict or (lambda model, epoch: predict_in_batches(model, self.x, 32))
        self.epochs, self.probabilities = [], []

    def on_train_begin(self, logs=None):
        """Start from the epochs already kept (a continued run with the same sample), else from none."""
        self.epochs, self.probabilities = [], []
        found = inside.load_learning(self.path)
        if found is not None and np.array_equal(found["index"], self.index):
            self.epochs, self.probabilities = list(found["epochs"]), list(found["probabilities"])

    def on_epoch_end(self, epoch, logs=None):
        """Predict the sample; keep its probabilities under this epoch (an epoch done again replaces them)."""
        try:
            probs = predictions.class_probabilities(self.predict(self.model, epoch)).astype(np.float32)
            keep = [i for i, e in enumerate(self.epochs) if e < epoch + 1]
            self.epochs = [self.epochs[i] for i in keep] + [epoch + 1]
            self.probabilities = [self.probabilities[i] for i in keep] + [probs]
            keep = epochs_kept.kept(self.epochs)
            self.epochs, self.probabilities = [self.epochs[i] for i in keep], [self.probabilities[i] for i in keep]
            arrays = {"index": self.index, "epochs": np.asarray(self.epochs, np.int64),
                      "probabilities": np.stack(self.probabilities)}
            atomic_write(self.path, lambda p: np.savez(p, **arrays))
        except Exception:  # a missing strip must not end the training
            log.exception("could not save the sample's probabilities to %s", self.path)
