"""What runs inside a trainer process: build or reload the model, fit it, save the artifacts.

Called by the embedded executor's spawned process (runs/local.py) and by RQ work-horses. Every
event goes through a Publisher: stored in the journal first, then sent. The Keras callbacks `fit`
gets are in runs/callbacks.py; where the files go, in runs/paths.py.
"""

import csv
import gc
import io
import logging
import os
import queue
import socket
import threading
from pathlib import Path

from ..predict import predictions
from ..datasets import Registry
from ..modelspec import build
from ..modelspec.exporters import train_script
from ..modelspec.validate import validate
from ..db.store import Run, Store
from . import dynamics, feed, fine_tune, hook_times, journal, lr_range, paths, startup, uploaded_weights
from .paths import atomic_write

log = logging.getLogger(__name__)


class Publisher:
    """Stores and sends events on its own thread, in order, so `fit` never waits on the database."""

    def __init__(self, store, run_id, send):
        self.store, self.run_id, self.send = store, run_id, send
        self._queue = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name=f"publisher-{run_id}", daemon=True)
        self._thread.start()

    def __call__(self, kind, data):
        """Queue a "batch", "epoch" or "dynamics" event."""
        self._queue.put((kind, data))

    def _loop(self):
        while (item := self._queue.get()) is not None:
            try:
                self.handle(*item)
            except Exception:  # a lost progress event must not kill the training
                log.exception("could not publish a %s event of run %s", item[0], self.run_id)

    def handle(self, kind, data):
        """Store one event in the journal and send it (on the publisher's thread)."""
        if kind == "epoch":
            event = journal.add_epoch(self.store, self.run_id, data["epoch"], data["logs"], data.get("sent_at"))
        elif kind == "dynamics":
            event = journal.add_dynamics(self.store, self.run_id, data)
        else:
            event = journal.add_batch(self.store, self.run_id, data)
        self.send(event)

    def close(self):
        """Wait until every queued event is stored and sent."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def status(self, status, error=None, **fields):
        """Record and send a status change right away (after the queued events)."""
        self.close()
        event = journal.set_status(self.store, self.run_id, status, error, **fields)
        if event:
            self.send(event)


def prepare(data, num_classes, label_mode):
    """Give (y_train, x_test, y_test, scale): the test pixels scaled to [0, 1], labels as the loss wants.

    The training pixels stay as stored: feed.py has TensorFlow scale them by `scale` (1 / pixel_max).
    Every kind but images is fed as it is: scale None, x_test as stored.
    """
    keras = build.init_keras()

    def labels(y):
        if label_mode == "onehot":
            return keras.utils.to_categorical(y, num_classes).astype("float32")
        if label_mode == "binary":
            return y.astype("float32").reshape(-1, 1)
        return y.astype("int64")

    if data.kind != "image":
        return labels(data.y_train), data.x_test, labels(data.y_test), None
    scale = 1.0 / data.pixel_max
    return labels(data.y_train), feed.scaled(data.x_test, scale), labels(data.y_test), scale


def new_model(spec, dataset, weights_dir=None):
    """Give the spec's model, compiled with its optimizer, loss and metrics (a range test's at its first rate, unscheduled).

    weights_dir: where uploaded backbone weights are kept (uploaded_weights.folder).
    """
    model = build.build_model(spec, dataset["input_shape"], name=_model_name(spec.name), weights_dir=weights_dir)
    chosen = spec.compile["optimizer"]
    if spec.fit and spec.fit.get("find_lr"):   # the range test sets the rate of every batch itself
        chosen = {**{k: v for k, v in chosen.items() if k != "schedule"}, "learning_rate": spec.fit["find_lr"]["min_lr"]}
    optimizer = build.make_optimizer(chosen)
    model.compile(optimizer=optimizer, loss=spec.compile["loss"], metrics=list(spec.compile["metrics"]))
    return model


ADAPT_BATCH = 256   # texts a TextVectorization.adapt step takes


def adapt_text(model, x, fit):
    """Adapt the model's TextVectorization layers on the texts fit trains on, before the first batch, as the Keras examples do.

    Those are the training split less fit's validation fraction (held out last, as feed.fit_inputs
    does); the vocabulary is the layer's state, so model.keras carries it.
    """
    keras = build.init_keras()
    import tensorflow as tf

    if not isinstance(fit["validation"], str):
        x = x[:int(len(x) * (1.0 - fit["validation"]))]
    # Batches from a generator: adapt() given the array itself splits every text at once (~14× the texts'
    # size in tokens) and from_tensor_slices would copy them all; 256 a batch was the quickest
    # (bench/datasets.py --texts). The vocabulary does not depend on the batch size.
    texts = tf.data.Dataset.from_generator(lambda: (x[i:i + ADAPT_BATCH] for i in range(0, len(x), ADAPT_BATCH)),
                                           output_signature=tf.TensorSpec([None], tf.string))
    for layer in model.layers:
        if isinstance(layer, keras.layers.TextVectorization):
            layer.adapt(texts)


def _model_name(name):
    # TensorFlow's root name scope must match ^[A-Za-z0-9.][A-Za-z0-9_.\\/>-]*$: ASCII only, no leading "_".
    safe = "".join(c if (c.isascii() and c.isalnum()) or c == "_" else "_" for c in name or "")[:60].strip("_")
    return safe or "sequential"


def save_predictions(model, x_test, y_test, folder, epoch, batch_size=32):
    """Predict the whole test split with the saved model, batch_size images at a time (the run's), and store predictions.npz atomically."""
    import numpy as np

    arrays = predictions.arrays(model.predict(x_test, batch_size=batch_size, verbose=0), y_test, epoch)
    atomic_write(folder / predictions.FILE, lambda p: np.savez(p, **arrays))


def train(run_id, settings, send, should_stop, worker=None):
    """Train one run to its end. Every outcome, an exception included, ends in a status event.

    settings: KD_DATA_DIR and KD_DATABASE_URL. send(event): delivers a stored (name, data) event.
    should_stop(): True once the user asked to stop. worker: the name of the RQ worker whose
    work-horse this is, or None; the run's `worker` reads NAME@HOST:PID, or HOST:PID without one.
    """
    store = Store(settings["KD_DATABASE_URL"])
    publisher = Publisher(store, run_id, send)
    try:
        status, error = _fit(store, run_id, settings, publisher, should_stop, worker)
    except Exception as exc:
        log.exception("run %s failed", run_id)
        status, error = "failed", failure_message(exc)
    publisher.status(status, error)


def failure_message(exc):
    """Give the sentence a user reads when training raised `exc`."""
    if type(exc).__name__ == "ResourceExhaustedError" or isinstance(exc, MemoryError):
        return "Out of memory while training: lower batch_size or make the model smaller."
    return f"Training failed: {build.keras_message(exc)}"


def _fit(store, run_id, settings, publisher, should_stop, worker=None):
    keras = build.init_keras(gpu=True)
    from .callbacks import EpochSample, Progress, fit_callbacks, inside_recorders

    with store.session() as s:
        run = s.get(Run, run_id)
        # Two workers on one machine differ only by name: the work-horse's pid is new for every job.
        run.worker = f"{worker[:60] + '@' if worker else ''}{socket.gethostname()[:60]}:{os.getpid()}"
        epochs_done, epochs_planned, raw_spec = run.epochs_done, run.epochs_planned, run.spec
        phases = list(run.phases or [])
    spec = validate(raw_spec, require_run=True)
    registry = Registry(settings["KD_DATA_DIR"], store)
    dataset = registry.info(spec.dataset, spec.dataset_options)   # input_shape for the run's dataset_options
    data = registry.load(spec.dataset, spec.dataset_options)
    y, x_test, y_test, scale = prepare(data, dataset["num_classes"], spec.label_mode)
    folder = paths.run_dir(settings["KD_DATA_DIR"], run_id, create=True)
    atomic_write(folder / paths.SCRIPT, lambda p: Path(p).write_text(train_script.python_script(spec, dataset)))
    resume = epochs_done > 0 and (folder / paths.MODEL).exists()
    model = keras.saving.load_model(folder / paths.MODEL) if resume else new_model(
        spec, dataset, uploaded_weights.folder(settings["KD_DATA_DIR"]))
    if data.kind == "text" and not resume:   # a continued run's vocabulary came back with its model.keras
        adapt_text(model, data.x_train, spec.fit)
    pending = next((p for p in phases if p["epoch"] == epochs_done and "note" not in p), None) if resume else None
    if pending:   # a continue with unfreeze: the phase begins at this epoch
        pending["note"] = fine_tune.apply(model, spec, pending["unfreeze"], pending["learning_rate"])
        _set_phases(store, run_id, phases)
    startup.build_state(model, data.x_train[:1] if scale is None else feed.scaled(data.x_train[:1], scale), y)
    fit = spec.fit
    progress = Progress(publisher, should_stop, fit["batch_size"])
    train_data, validation_data = feed.fit_inputs(data.x_train, y, data.x_test, y_test, fit, scale)
    if should_stop():
        return "stopped", None
    watcher = watch_dynamics(model, spec, folder, publisher, store, run_id, settings)
    if fit["find_lr"]:
        return range_test(model, fit["find_lr"], folder, train_data, watcher, progress, publisher)
    sample = EpochSample(folder / predictions.EPOCH_FILE, x_test, data.y_test, batch_size=fit["batch_size"])
    recorders = inside_recorders(folder, x_test, sample.predict) + ([watcher] if watcher else [])
    callbacks = fit_callbacks(spec, folder, progress, sample, recorders)
    if settings.get("KD_TIME_CALLBACKS"):
        callbacks = timed(keras, callbacks, folder, publisher)
    # train() runs only in a process that trains this one run and exits (runs/local.py, rq_worker.py).
    # Everything alive now (TensorFlow, Keras, the modules a spawned trainer imports: ~400k objects)
    # lives until then, so the collector need not walk it: a full collection walking it during fit
    # took ~0.6 s, a share of the run's CPU that plain Keras's smaller process does not pay.
    gc.freeze()
    # shuffle=False: the order is feed's (fit's own shuffle is for arrays, and warns when given a dataset).
    fit_args = {"shuffle": False, "verbose": 0, "validation_data": validation_data}
    start = epochs_done if resume else 0
    callbacks, watcher, start, go_on = _planned_first_phase(model, spec, train_data, fit_args, callbacks, watcher,
                                                            progress, (store, run_id, phases), start, epochs_planned)
    if go_on:
        model.fit(train_data, epochs=epochs_planned, initial_epoch=start, callbacks=callbacks, **fit_args)
    publisher.close()
    return _ended(store, run_id, model, folder, progress, watcher, x_test, data.y_test, fit["batch_size"])


def _planned_first_phase(model, spec, train_data, fit_args, callbacks, watcher, progress, where, start, planned_epochs):
    """Fit fit.fine_tune's first phase, then unfreeze and recompile (runs/fine_tune.py); give (callbacks, watcher,
    the epoch the rest starts at, whether to go on). Without a planned phase still to come, nothing happens."""
    store, run_id, phases = where
    planned = spec.fit.get("fine_tune")
    split = spec.fit["epochs"] if planned and not any(p.get("planned") for p in phases) else None
    if split is None or not start < split < planned_epochs:
        return callbacks, watcher, start, True
    model.fit(train_data, epochs=split, initial_epoch=start, callbacks=callbacks, **fit_args)
    if progress.stopped_by_user or progress.nan_at or model.stop_training or (watcher and watcher.failure):
        return callbacks, watcher, split, False
    note = fine_tune.apply(model, spec, planned["unfreeze"], planned["learning_rate"])
    # The dynamics probe instruments one set of trainable weights: the second phase goes without it.
    phases.append({"epoch": split, "unfreeze": planned["unfreeze"], "learning_rate": planned["learning_rate"],
                   "planned": True, "note": note + ("; training dynamics not recorded in this phase" if watcher else "")})
    _set_phases(store, run_id, phases)
    return [c for c in callbacks if c is not watcher], None, split, True


def _set_phases(store, run_id, phases):
    """Store the run's fine-tuning phases (the charts mark where each began)."""
    with store.session() as s:
        s.get(Run, run_id).phases = [dict(p) for p in phases]


def _ended(store, run_id, model, folder, progress, watcher, x_test, y_test, batch_size):
    """Save what the fit left and give (status, error): a NaN keeps the last good weights and fails the run."""
    failure = watcher.failure if watcher else None
    # A NaN step's update is never applied (fit_dynamics), so the weights are the last good ones, unless an
    # unrecorded step applied a gradient that overflowed or the dynamics were off: then the last epoch's
    # model.keras stays as it is.
    epochs = save_artifacts(store, run_id, model if _finite(model) else None, folder)
    if failure:
        return "failed", failure
    if progress.nan_at:
        epoch, batch = progress.nan_at
        return "failed", (f"The loss became NaN at epoch {epoch}, batch {batch}, so training stopped "
                          "(TerminateOnNaN). Try a lower learning_rate, clipnorm, or BatchNormalization.")
    # After the save, from the same weights: the gallery shows what the downloaded model.keras predicts.
    save_predictions(model, x_test, y_test, folder, epochs, batch_size)
    return ("stopped" if progress.stopped_by_user else "completed"), None


def _finite(model):
    """Say whether every weight of the model is finite."""
    import numpy as np

    return all(np.isfinite(np.asarray(w)).all() for w in model.get_weights())


def watch_dynamics(model, spec, folder, publisher, store, run_id, settings):
    """Give the run's TrainingDynamics callback on its instrumented model, or None when fit.dynamics is off.

    A range test records every step (it needs each batch's loss), whatever fit.dynamics says.
    """
    from . import fit_dynamics
    from .dynamics_callbacks import TrainingDynamics

    find_lr = spec.fit["find_lr"]
    every = 1 if find_lr else (spec.fit["dynamics"] or {}).get("every")
    if not every:
        return None
    journal.drop_dynamics(store, run_id)   # a fit starts from dynamics.json: what an earlier fit streamed is in it
    probe = fit_dynamics.instrument(model, every)
    return TrainingDynamics(probe, publisher, folder / dynamics.FILE, most=settings.get("KD_DYNAMICS_MAX_STEPS")
                            or dynamics.MOST, stop_on_nan=not find_lr)


def range_test(model, find_lr, folder, train_data, watcher, progress, publisher):
    """Train the range test's batches, the rate rising at each, and give (status, None); no weights are kept."""
    from .dynamics_callbacks import LearningRateRangeTest

    test = LearningRateRangeTest(watcher.probe, folder / lr_range.FILE, **find_lr)
    gc.freeze()
    model.fit(train_data.repeat(), epochs=1, steps_per_epoch=find_lr["steps"], shuffle=False, verbose=0,
              callbacks=[test, watcher, progress])
    publisher.close()
    return ("stopped" if progress.stopped_by_user else "completed"), None


def timed(keras, callbacks, folder, publisher):
    """Give the callbacks with their hooks and the publisher timed per epoch (hook_times.py), between two clocks."""
    times = hook_times.HookTimes(folder)
    publisher.handle = times.timed("publisher", publisher.handle)
    return [keras.callbacks.LambdaCallback(on_epoch_begin=lambda epoch, logs: times.epoch_began()),
            *times.wrap(callbacks),
            keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: times.epoch_ended(epoch))]


def save_artifacts(store, run_id, model, folder):
    """Write model.keras, model.json (unless model is None) and history.csv, each atomically; give the epochs done."""
    if model is not None:
        atomic_write(folder / paths.MODEL, model.save)
        atomic_write(folder / paths.MODEL_JSON, lambda p: Path(p).write_text(model.to_json()))
    with store.session() as s:
        run = s.get(Run, run_id)
        history, epochs = run.history or {}, run.epochs_done
    atomic_write(folder / paths.HISTORY, lambda p: Path(p).write_text(history_csv(history)))
    return epochs


def history_csv(history):
    """Give the history as CSV: one row per epoch (counted from 1), one column per Keras log key."""
    keys = list(history)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["epoch", *keys])
    for i in range(max((len(v) for v in history.values()), default=0)):
        writer.writerow([i + 1, *(history[k][i] if i < len(history[k]) else "" for k in keys)])
    return out.getvalue()
