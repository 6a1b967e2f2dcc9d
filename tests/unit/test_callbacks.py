"""The trainer's Keras callbacks, each hook called directly on a tiny model, as Keras tests its own."""

import concurrent.futures
import math
import types

import numpy as np
import pytest

from tests.specs import MLP, spec
from webapp.predict import predictions
from webapp.modelspec.build import init_keras
from webapp.modelspec.validate import validate

pytestmark = pytest.mark.keras
keras = init_keras()
from webapp.runs import callbacks  # noqa: E402  (imports Keras: after init_keras, as the trainer does)


@pytest.fixture
def model():
    """Give a compiled 4-input, 3-class softmax model (SGD, learning rate 0.125)."""
    keras.utils.set_random_seed(1)
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    m.compile(optimizer=keras.optimizers.SGD(learning_rate=0.125), loss="sparse_categorical_crossentropy")
    return m


@pytest.fixture
def data():
    """Give (x, y): 20 samples of 4 features and integer labels 0 to 2."""
    rng = np.random.default_rng(0)
    return rng.random((20, 4), dtype=np.float32), rng.integers(0, 3, 20)


@pytest.fixture
def clock(monkeypatch):
    """Give a settable clock standing in for the callbacks' time.perf_counter and time.time."""
    now = types.SimpleNamespace(t=0.0)
    fake = types.SimpleNamespace(perf_counter=lambda: now.t, time=lambda: 1_000_000 + now.t)
    monkeypatch.setattr(callbacks, "time", fake)
    return now


def progress_on(model, steps, should_stop=lambda: False, per_second=4.0):
    """Give (Progress set on the model for `steps` batches of 4, the list it publishes into)."""
    events = []
    cb = callbacks.Progress(lambda kind, data: events.append((kind, data)), should_stop, 4, per_second)
    cb.set_model(model)
    cb.set_params({"epochs": 2, "steps": steps, "verbose": 0})
    return cb, events


def weights_equal(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a.get_weights(), b.get_weights()))


# -- Progress ----------------------------------------------------------------------------------------


def test_progress_sends_the_first_batch_then_at_most_per_second_and_always_the_last(model, clock):
    cb, events = progress_on(model, steps=3)
    clock.t = 10.0
    cb.on_epoch_begin(0)
    for batch, t in enumerate((10.5, 10.6, 10.7)):
        clock.t = t
        cb.on_train_batch_end(batch, {"loss": 0.5 - batch / 10})
    assert events == [
        ("batch", {"epoch": 1, "batch": 1, "steps": 3, "logs": {"loss": 0.5}, "samples_per_s": 8.0,
                   "eta_s": 1.0, "sent_at": 1_000_010.5}),
        # batch 2 came 0.1 s after batch 1: under the 0.25 s interval, so not sent
        ("batch", {"epoch": 1, "batch": 3, "steps": 3, "logs": {"loss": 0.3}, "samples_per_s": 17.1,
                   "eta_s": 0.0, "sent_at": 1_000_010.7}),
    ]


def test_progress_sends_the_epoch_logs_with_the_optimizers_learning_rate(model, clock):
    cb, events = progress_on(model, steps=3)
    clock.t = 3.0
    cb.on_epoch_end(1, {"loss": 0.25, "accuracy": 0.5})
    assert events == [("epoch", {"epoch": 2, "logs": {"loss": 0.25, "accuracy": 0.5, "learning_rate": 0.125},
                                 "sent_at": 1_000_003.0})]


def test_progress_keeps_a_learning_rate_keras_already_logged(model, clock):
    cb, events = progress_on(model, steps=3)
    cb.on_epoch_end(0, {"loss": 0.25, "learning_rate": 0.0125})   # as ReduceLROnPlateau logs it
    assert events[0][1]["logs"] == {"loss": 0.25, "learning_rate": 0.0125}


def test_progress_stops_training_once_asked_and_asks_no_more(model, clock):
    asked = []
    cb, _ = progress_on(model, steps=5, should_stop=lambda: asked.append(1) or len(asked) >= 2)
    cb.on_epoch_begin(0)
    cb.on_train_batch_end(0, {"loss": 1.0})
    assert not model.stop_training and not cb.stopped_by_user
    cb.on_train_batch_end(1, {"loss": 1.0})
    assert model.stop_training and cb.stopped_by_user
    cb.on_train_batch_end(2, {"loss": 1.0})
    assert len(asked) == 2


def test_progress_notes_where_the_loss_first_became_nan(model, clock):
    cb, _ = progress_on(model, steps=5)
    cb.on_epoch_begin(1)
    cb.on_train_batch_end(0, {"loss": 1.0})
    assert not model.stop_training
    cb.on_train_batch_end(1, {"loss": math.nan})
    assert model.stop_training and not cb.stopped_by_user   # as keras.callbacks.TerminateOnNaN stops
    cb.on_train_batch_end(2, {"loss": math.inf})
    assert cb.nan_at == (2, 2)


def test_progress_in_fit_stops_after_the_first_batch_whose_loss_is_nan(model, data):
    x, y = data
    x = x.copy()
    x[10:] = np.nan   # batches of 5: the third batch's loss is NaN
    cb = callbacks.Progress(lambda kind, d: None, lambda: False, batch_size=5)
    model.fit(x, y, epochs=3, batch_size=5, shuffle=False, callbacks=[cb], verbose=0)
    assert cb.nan_at == (1, 3) and not cb.stopped_by_user
    assert int(model.optimizer.iterations.numpy()) == 3


def test_progress_in_fit_reports_each_epoch_and_stops_after_the_batch_it_was_asked_in(model, data):
    x, y = data
    events = []
    cb = callbacks.Progress(lambda kind, d: events.append((kind, d)), lambda: False, batch_size=10)
    model.fit(x, y, epochs=2, batch_size=10, callbacks=[cb], verbose=0)
    assert [d["epoch"] for k, d in events if k == "epoch"] == [1, 2]
    assert [(d["epoch"], d["batch"]) for k, d in events if k == "batch"][-1] == (2, 2)

    events.clear()
    cb = callbacks.Progress(lambda kind, d: events.append((kind, d)), lambda: True, batch_size=10)
    model.fit(x, y, epochs=2, batch_size=10, callbacks=[cb], verbose=0)
    assert cb.stopped_by_user and [d["epoch"] for k, d in events if k == "epoch"] == [1]
    assert int(model.optimizer.iterations.numpy()) == 4 + 1   # two epochs of 2 batches, then one


def test_progress_run_from_many_threads_sends_batches_in_order_and_always_the_last(model):
    # Keras runs batch hooks on a thread pool, in any order, when every batch callback is async_safe.
    assert callbacks.Progress.async_safe
    cb, events = progress_on(model, steps=200, per_second=float("inf"))   # no throttle: every batch may go
    for epoch in (0, 1):
        cb.on_epoch_begin(epoch)
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda b: cb.on_train_batch_end(b, {"loss": 1.0}), range(200)))
        cb.on_epoch_end(epoch, {"loss": 1.0})
    for epoch in (1, 2):
        sent = [d["batch"] for kind, d in events if kind == "batch" and d["epoch"] == epoch]
        assert sent == sorted(set(sent)) and sent[-1] == 200
    assert [(k, d["epoch"]) for k, d in events if k == "epoch"] == [("epoch", 1), ("epoch", 2)]
    assert [k for k, _ in events].index("epoch") > max(i for i, (k, d) in enumerate(events) if d["epoch"] == 1 and k == "batch")


def test_progress_drops_a_batch_older_than_one_already_sent(model, clock):
    cb, events = progress_on(model, steps=5)
    cb.on_epoch_begin(0)
    clock.t = 1.0
    cb.on_train_batch_end(3, {"loss": float("nan")})   # batch 4's hook ran first
    clock.t = 2.0
    cb.on_train_batch_end(1, {"loss": float("nan")})   # batch 2's, late: not sent, but its NaN counts
    cb.on_train_batch_end(4, {"loss": 0.5})
    assert [d["batch"] for _, d in events] == [4, 5] and cb.nan_at == (1, 2)


# -- SaveEveryEpoch and AtomicCheckpoint ------------------------------------------------------------------


def test_save_every_epoch_writes_a_loadable_model_and_no_partial_file(model, tmp_path):
    cb = callbacks.SaveEveryEpoch(tmp_path / "model.keras")
    cb.set_model(model)
    cb.on_epoch_end(0, {"loss": 1.0})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.keras"]
    saved = keras.saving.load_model(tmp_path / "model.keras")
    assert weights_equal(saved, model) and saved.optimizer.learning_rate.numpy() == pytest.approx(0.125)


def test_atomic_checkpoint_keeps_the_best_epoch_only(model, tmp_path):
    cb = callbacks.AtomicCheckpoint(tmp_path / "best.keras", monitor="val_loss", mode="min", save_best_only=True)
    cb.set_model(model)
    cb.on_epoch_end(0, {"val_loss": 1.0})
    first = [w.copy() for w in model.get_weights()]
    model.set_weights([w + 1 for w in first])
    cb.on_epoch_end(1, {"val_loss": 2.0})   # worse: best.keras keeps epoch 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.keras"]
    assert all(np.array_equal(a, b) for a, b in zip(keras.saving.load_model(tmp_path / "best.keras").get_weights(), first))
    cb.on_epoch_end(2, {"val_loss": 0.5})
    assert weights_equal(keras.saving.load_model(tmp_path / "best.keras"), model)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.keras"]


# -- EpochSample ---------------------------------------------------------------------------------------


def test_epoch_sample_saves_each_epochs_predictions_with_the_previous_ones(model, data, tmp_path):
    x, y = data
    path = tmp_path / predictions.EPOCH_FILE
    cb = callbacks.EpochSample(path, x, y)
    cb.set_model(model)
    cb.on_train_begin()
    cb.on_epoch_end(0)
    first = predictions.Predictions.load(path)
    assert first.epoch == 1 and first.index.tolist() == list(range(20)) and first.true.tolist() == y.tolist()
    assert first.predicted.tolist() == np.argmax(model.predict(x, verbose=0), -1).tolist()
    assert first.previous.tolist() == [-1] * 20

    model.set_weights([w * 0 for w in model.get_weights()][:-1] + [np.array([0.0, 0.0, 1.0], np.float32)])
    cb.on_epoch_end(1)
    second = predictions.Predictions.load(path)
    assert second.epoch == 2 and second.predicted.tolist() == [2] * 20
    assert second.previous.tolist() == first.predicted.tolist()

    again = callbacks.EpochSample(path, x, y)   # a continued run starts from the file its last epoch left
    again.on_train_begin()
    assert again.previous.tolist() == [2] * 20


def test_epoch_sample_and_sample_probabilities_share_one_predict_per_epoch(model, data, tmp_path):
    from webapp.predict import inside

    x, y = data
    calls = []
    predict_on_batch = model.predict_on_batch
    model.predict_on_batch = lambda batch: calls.append(len(batch)) or predict_on_batch(batch)
    sample = callbacks.EpochSample(tmp_path / predictions.EPOCH_FILE, x, y)
    _, probabilities = callbacks.inside_recorders(tmp_path, x, sample.predict)
    model.fit(x, y, epochs=2, verbose=0, callbacks=[sample, probabilities])
    assert calls == [len(sample.index)] * 2                     # one predict of the sample per epoch
    strip = inside.learning(tmp_path, int(sample.index[3]))
    assert strip["epochs"] == [1, 2]
    assert np.argmax(strip["probabilities"][-1]) == predictions.Predictions.load(sample.path).predicted[3]


def test_epoch_sample_predicts_in_batches_of_the_runs_batch_size(model, data, tmp_path):
    # A model that needs 96 MB a sample, trained at batch_size 1, must not be given 100 images at once.
    x, y = data
    calls = []
    predict_on_batch = model.predict_on_batch
    model.predict_on_batch = lambda batch: calls.append(len(batch)) or predict_on_batch(batch)
    sample = callbacks.EpochSample(tmp_path / predictions.EPOCH_FILE, x, y, batch_size=8)
    sample.set_model(model)
    sample.on_train_begin()
    sample.on_epoch_end(0)
    assert calls == [8, 8, 4]
    saved = predictions.Predictions.load(sample.path)
    assert saved.predicted.tolist() == np.argmax(model.predict(x, verbose=0), -1).tolist()


def test_the_test_splits_predictions_after_training_use_the_runs_batch_size(model, data, tmp_path):
    from webapp.runs import trainer

    x, y = data
    sizes = []
    predict = model.predict
    model.predict = lambda inputs, **kwargs: sizes.append(kwargs.get("batch_size")) or predict(inputs, **kwargs)
    trainer.save_predictions(model, x, y, tmp_path, 1, batch_size=8)
    assert sizes == [8]
    assert predictions.Predictions.load(tmp_path / predictions.FILE).predicted.tolist() == \
        np.argmax(predict(x, verbose=0), -1).tolist()


def test_save_every_epoch_fills_the_cache_keras_saving_misses(model, tmp_path):
    from keras.src.saving import saving_lib

    cb = callbacks.SaveEveryEpoch(tmp_path / "model.keras")
    cb.set_model(model)
    cb.on_train_begin()
    assert saving_lib.get_attr_skipset("Layer") is saving_lib.get_attr_skipset("Layer")   # built once
    cb.on_epoch_end(0, {"loss": 1.0})
    assert weights_equal(keras.saving.load_model(tmp_path / "model.keras"), model)


def test_hook_times_sum_each_overridden_hook_per_epoch_and_leave_keras_defaults_alone(model, data, tmp_path):
    from keras.src import utils

    from webapp.runs import hook_times
    from webapp.runs.trainer import timed

    x, y = data
    progress, _ = progress_on(model, steps=3)
    publisher = types.SimpleNamespace(handle=lambda kind, data: None)
    cbs = timed(keras, [keras.callbacks.TerminateOnNaN(), progress], tmp_path, publisher)   # a Keras callback too
    assert utils.is_default(progress.on_test_batch_end) and not utils.is_default(progress.on_train_batch_end)
    model.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=cbs)
    epochs = hook_times.load(tmp_path)["epochs"]
    assert [e["epoch"] for e in epochs] == [1, 2] and all(e["wall_s"] > 0 for e in epochs)
    assert {"TerminateOnNaN.on_batch_end", "Progress.on_train_batch_end", "Progress.on_epoch_end"} <= set(epochs[1]["parts"])


# -- fit_callbacks ---------------------------------------------------------------------------------------


def test_fit_callbacks_gives_the_specs_callbacks_before_ours(tmp_path):
    chosen = {"checkpoint": {"monitor": "val_loss"}, "early_stopping": {"patience": 1},
              "reduce_lr_on_plateau": {"factor": 0.5}}
    run_spec = validate(spec(MLP, fit={**MLP["fit"], "callbacks": chosen}), require_run=True)
    progress = callbacks.Progress(lambda kind, data: None, lambda: False, 64)
    sample = callbacks.EpochSample(tmp_path / "s.npz", np.zeros((3, 4)), np.zeros(3))
    cbs = callbacks.fit_callbacks(run_spec, tmp_path, progress, sample=sample)
    assert [type(c).__name__ for c in cbs] == ["AtomicCheckpoint", "EarlyStopping", "ReduceLROnPlateau",
                                              "SaveEveryEpoch", "EpochSample", "Progress"]
    assert cbs[0].path == tmp_path / "best.keras" and cbs[3].path == tmp_path / "model.keras"
    assert cbs[1].patience == 1 and cbs[2].factor == 0.5
    plain = callbacks.fit_callbacks(validate(spec(MLP), require_run=True), tmp_path, progress)
    assert [type(c).__name__ for c in plain] == ["SaveEveryEpoch", "Progress"]
