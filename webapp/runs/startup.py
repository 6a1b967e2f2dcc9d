"""What brings a trainer process to its first batch sooner: a spare's throwaway fit, and a model's state built before `fit`.

Runs inside a trainer process only (Keras is loaded there). bench/runs.py measures both ("time to
first batch").
"""

import logging

import numpy as np

from ..spec import build
from ..spec.fields import SpecError

log = logging.getLogger(__name__)


def warm_up():
    """Train a tiny convnet for one epoch of two batches (with validation), then clear the Keras session.

    The first `fit` in a process pays, besides its own model's tracing, for what every later one
    reuses: TensorFlow's first tf.function trace and graph optimisation, its thread pools, tf.data,
    Keras's trainer and callback machinery. A spare (runs/local.py) pays that here, on a model of a
    few parameters, while nobody waits. `clear_session` then resets Keras's global state, so the
    run's layers get the names a fresh process gives them ("dense", not "dense_1").
    """
    keras = build.init_keras(gpu=True)
    x = np.zeros((8, 6, 6, 1), "float32")
    y = np.eye(2, dtype="float32")[np.arange(8) % 2]
    model = keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Conv2D(2, 3, activation="relu"),
                              keras.layers.MaxPooling2D(), keras.layers.Flatten(),
                              keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    build_state(model, x, y)
    model.fit(x, y, batch_size=4, epochs=1, shuffle=True, verbose=0, validation_data=(x, y))
    keras.backend.clear_session()


def build_state(model, x, y):
    """Create a compiled model's optimizer and metric variables now, eagerly, from one sample of x and y.

    Left to `fit`, Keras creates them inside the first trace of its train function, and TensorFlow
    traces a tf.function that created variables a second time: half the first batch's time. The
    values are those `fit` would create (zeros), and the metrics are reset after.
    """
    try:
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        x, y = x[:1], y[:1]
        y_pred = model(x, training=False)   # training=False: no dropout or augmentation draws a random number
        model.compute_loss(x, y, y_pred)
        model.compute_metrics(x, y, y_pred, sample_weight=None)
        model.reset_metrics()
    except Exception:   # only a head start: whatever is not built here, `fit` builds (and reports) as usual
        log.warning("could not build the model's training state before fit", exc_info=True)


def check(spec, dataset):
    """Give a spare's answer to a model check: ("ok", build.summarize's answer), ("invalid", [FieldError]) or ("failed", text).

    The check builds Keras layers, so the session is cleared after it: the run this spare trains
    next gets a fresh process's layer names.
    """
    try:
        answer = ("ok", build.summarize(spec, dataset))
    except SpecError as exc:
        answer = ("invalid", exc.errors)
    except Exception as exc:   # the web process checks it itself and answers whatever this was
        answer = ("failed", repr(exc))
    build.init_keras().backend.clear_session(free_memory=False)
    return answer
