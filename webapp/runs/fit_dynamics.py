"""What each training step does to each weight, measured inside the compiled train step, and the callbacks that read it.

Runs inside a trainer process only (it imports Keras and TensorFlow at the top). `instrument`
gives a `Probe`: the model's `train_step`, replaced on the instance only (so its class, and the
saved model.keras, stay plain Keras), is Keras's own TensorFlow step (keras/src/backend/tensorflow/
trainer.py) with one `tf.switch_case` after the gradients: an ordinary step applies them; every
`every` steps a recorded one also keeps each weight's gradient norm, its norm after the step and
the norm of the change the optimizer really made (after minus before) in variables; a step whose
loss is not finite applies nothing and notes which gradients and weights were not finite. No
second forward pass, no eager round trip: the callbacks read the variables only after a recorded
or a failed step. `TrainingDynamics` records, warns, streams and stops; `LearningRateRangeTest`
is the range test. The data side is runs/dynamics.py, dynamics_warnings.py and lr_range.py.
"""

import logging
import math
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from keras.src.losses.loss import unscale_loss_for_distribution

from . import dynamics, dynamics_warnings, lr_range
from .paths import atomic_write

log = logging.getLogger(__name__)
PLAIN, RECORDED, FAILED = 0, 1, 2
_UNITS_LAST = ("Dense", "Conv1D", "Conv2D", "Conv3D")   # layers whose kernel's last axis is their units


def instrument(model, every):
    """Give the model's Probe, its train step now measuring every `every` steps (a built, compiled model)."""
    probe = Probe(model, every)
    model.train_step = probe.train_step   # on the instance: type(model) and its saved config are unchanged
    model.train_function = None           # fit makes its train function again, from this step
    return probe


def _is_relu(fn):
    return getattr(fn, "__name__", "") == "relu"


def relu_layers(model):
    """Give [(layer name, kernel, bias or None)] of the Dense and Conv layers whose outputs go through a ReLU."""
    found, layers = [], list(model.layers)
    for i, layer in enumerate(layers):
        if type(layer).__name__ not in _UNITS_LAST or getattr(layer, "kernel", None) is None:
            continue
        after = layers[i + 1] if isinstance(model, keras.Sequential) and i + 1 < len(layers) else None
        then_relu = isinstance(after, keras.layers.ReLU) and not after.max_value and not after.negative_slope \
            or isinstance(after, keras.layers.Activation) and _is_relu(after.activation)
        activation = getattr(layer, "activation", None)
        if _is_relu(activation) or then_relu and getattr(activation, "__name__", "") == "linear":
            found.append((layer.name, layer.kernel, getattr(layer, "bias", None)))
    return found


def _norm(value):
    """Give a tensor's Euclidean norm in float64 (a float32 sum of squares overflows near 1e19)."""
    if isinstance(value, tf.IndexedSlices):
        value = tf.convert_to_tensor(value)
    return tf.norm(tf.reshape(tf.cast(value, tf.float64), [-1]))


class Probe:
    """The variables a model's instrumented train step fills, and that step.

    Args:
        model: a built, compiled Keras model (its optimizer built: startup.build_state).
        every: steps between two records (a record is taken when optimizer.iterations % every == 0).

    Example:

    ```python
    probe = instrument(model, every=10)
    model.fit(x, y, epochs=1, verbose=0)
    probe.read()["figures"]   # (weights, 3): grad, weight and update norms of the last recorded step
    ```
    """

    def __init__(self, model, every):
        self.model = model
        self.weights = list(model.trainable_weights)
        owner = {id(w): layer for layer in model.layers for w in layer.trainable_weights}
        self.layers = [getattr(owner.get(id(w)), "name", model.name) for w in self.weights]
        self.names = [_short_name(w, layer) for w, layer in zip(self.weights, self.layers)]
        index = {id(w): i for i, w in enumerate(self.weights)}
        self.relu = [(name, index[id(k)], index.get(id(b))) for name, k, b in relu_layers(model) if id(k) in index]
        n = len(self.weights)
        self.every = tf.Variable(int(every), dtype=tf.int64, trainable=False)
        self.outcome = tf.Variable(PLAIN, dtype=tf.int32, trainable=False)
        self.loss = tf.Variable(0.0, dtype=tf.float64, trainable=False)
        self.rate = tf.Variable(0.0, dtype=tf.float64, trainable=False)
        self.figures = tf.Variable(tf.zeros((n, 3), tf.float64), trainable=False)
        self.finite = tf.Variable(tf.ones((n, 2), tf.float32), trainable=False)   # gradient, weight
        self.units = [tf.Variable(tf.zeros(self.weights[k].shape[-1], tf.float32), trainable=False)
                      for _, k, _ in self.relu]

    @property
    def pairs(self):
        """Give [(layer name, weight name)] in the model's order of trainable weights."""
        return list(zip(self.layers, self.names))

    def set_every(self, every):
        """Record every `every` steps from now on."""
        self.every.assign(int(every))

    def read(self):
        """Give what the last recorded or failed step left: outcome, loss, rate, figures, finite, units (numpy)."""
        return {"outcome": int(self.outcome.numpy()), "loss": float(self.loss.numpy()), "rate": float(self.rate.numpy()),
                "figures": self.figures.numpy(), "finite": self.finite.numpy() > 0.5,
                "units": {name: v.numpy() for (name, _, _), v in zip(self.relu, self.units)}}

    def train_step(self, data):
        """Give the step's metrics, as Keras's TensorFlow train step does, measuring on recorded steps."""
        model = self.model
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            y_pred = model(x, training=True) if model._call_has_training_arg else model(x)
            loss = model._compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True)
            model._loss_tracker.update_state(unscale_loss_for_distribution(loss),
                                             sample_weight=tf.shape(next(i for i in tf.nest.flatten(x) if i is not None))[0])
            scaled = model.optimizer.scale_loss(loss)
        grads = tape.gradient(scaled, self.weights)
        due = tf.equal(tf.math.floormod(tf.cast(model.optimizer.iterations, tf.int64), self.every), 0)
        branch = tf.where(tf.math.is_finite(loss), tf.where(due, RECORDED, PLAIN), FAILED)
        tf.switch_case(tf.cast(branch, tf.int32), [lambda: self._apply(grads), lambda: self._recorded(grads, loss),
                                                  lambda: self._failed(grads, loss)])
        return model.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def _apply(self, grads):
        self.model.optimizer.apply(grads, self.weights)
        return tf.constant(0)

    def _true_grads(self, grads):
        scale = self.model.optimizer.loss_scale_factor
        return [tf.zeros_like(w) if g is None else (g / scale if scale else g) for g, w in zip(grads, self.weights)]

    def _recorded(self, grads, loss):
        """Apply the step and keep its figures; a gradient that is not finite fails the step instead."""
        norms = tf.stack([_norm(g) for g in self._true_grads(grads)])
        return tf.cond(tf.reduce_all(tf.math.is_finite(norms)), lambda: self._measured(grads, norms, loss),
                       lambda: self._failed(grads, loss))

    def _measured(self, grads, norms, loss):
        optimizer = self.model.optimizer
        rate = tf.cast(optimizer.learning_rate, tf.float64)        # this step's rate: the schedule's before the step
        before = [tf.identity(w.value) for w in self.weights]
        optimizer.apply(grads, self.weights)
        after = [tf.identity(w.value) for w in self.weights]      # read after the update (ordered by the variables)
        updates = tf.stack([_norm(a - b) for a, b in zip(after, before)])
        self.figures.assign(tf.stack([norms, tf.stack([_norm(a) for a in after]), updates], axis=1))
        true = self._true_grads(grads)
        for var, (_, k, b) in zip(self.units, self.relu):
            axes = list(range(len(true[k].shape) - 1))
            most = tf.reduce_max(tf.abs(tf.convert_to_tensor(true[k])), axis=axes)
            var.assign(tf.cast(most if b is None else tf.maximum(most, tf.abs(tf.convert_to_tensor(true[b]))), tf.float32))
        self.loss.assign(tf.cast(loss, tf.float64))
        self.rate.assign(rate)
        self.outcome.assign(RECORDED)
        return tf.constant(0)

    def _failed(self, grads, loss):
        """Apply nothing; note the loss, which gradients and weights are not finite, and the gradients' norms."""
        finite = [tf.stack([tf.cast(tf.reduce_all(tf.math.is_finite(tf.convert_to_tensor(g))), tf.float32),
                            tf.cast(tf.reduce_all(tf.math.is_finite(w.value)), tf.float32)])
                  for g, w in zip(self._true_grads(grads), self.weights)]
        if finite:
            self.finite.assign(tf.stack(finite))
            norms = tf.stack([_norm(g) for g in self._true_grads(grads)])   # which layer's gradient was largest
            self.figures.assign(tf.stack([norms, tf.zeros_like(norms), tf.zeros_like(norms)], axis=1))
        self.loss.assign(tf.cast(loss, tf.float64))
        self.outcome.assign(FAILED)
        return tf.constant(0)


def _short_name(weight, layer):
    """Give a weight's name within its layer: "kernel", or "forward_lstm/lstm_cell/kernel" in a wrapper."""
    path = getattr(weight, "path", "") or weight.name
    return path.split(f"{layer}/", 1)[1] if f"{layer}/" in path else weight.name
