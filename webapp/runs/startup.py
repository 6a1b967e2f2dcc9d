"""What brings a trainer process to its first batch sooner: a spare's warm-up, and a model's state built before `fit`.

Runs inside a trainer process only (Keras is loaded there). bench/runs.py measures both ("time to
first batch").
"""

import logging

import numpy as np

from ..modelspec import build
from ..modelspec.fields import SpecError
from . import feed

log = logging.getLogger(__name__)


def warm_up(interrupted=lambda: False):
    """Pay, on throwaway data while nobody waits, first-time costs that a run's start would pay; then clear the Keras session.

    Two steps, the second skipped once `interrupted()` (a run or a check is waiting for this spare):
    1. the feed's first datasets and their iterators (feed.py; ~0.35 s here, ~0.1 s off the run's start);
    2. Keras's first model: layers built, variables made, the optimizer's and metrics' state
       (build_state; ~0.3 s here, ~0.08 s off the run's start).
    A throwaway `fit` as well (TensorFlow's first train-function trace) took 1.2-1.7 s and took no
    measurable time off the run's own trace (bench/runs.py's convnet, 0.5-0.9 s either way), while
    a run posted meanwhile waited for it. `clear_session` resets Keras's global state, so the run's
    layers get the names a fresh process gives them ("dense", not "dense_1").
    """
    keras = build.init_keras(gpu=True)
    x = np.zeros((8, 6, 6, 1), "uint8")
    y = np.eye(2, dtype="float32")[np.arange(8) % 2]
    train, held_out = feed.fit_inputs(x, y, x, y, {"batch_size": 4, "validation": "test", "shuffle": True}, 1 / 255)
    for _ in (*train, *held_out):
        pass
    if interrupted():
        return
    model = keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Conv2D(2, 3, activation="relu"),
                              keras.layers.MaxPooling2D(), keras.layers.Flatten(),
                              keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    build_state(model, feed.scaled(x, 1 / 255), y)
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
