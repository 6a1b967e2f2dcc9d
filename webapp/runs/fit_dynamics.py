"""What each training step does to each weight, measured inside the compiled train step, and the callbacks' probe.

Runs inside a trainer process only (it imports Keras and TensorFlow at the top). `instrument`
gives a `Probe` and sets the model's train function to the first of two that Keras makes of the
probe's steps (`_make_function`, as Keras makes its own from `train_step`; the model's class, and
so its saved model.keras, stay plain Keras). Both are Keras's own TensorFlow train step
(keras/src/backend/tensorflow/trainer.py) with the update under one `tf.cond`:
- `guarded_step`, every step but the recorded ones: a loss that is not finite applies nothing and
  notes which gradients and weights were not finite (its only cost: the test of the loss);
- `recorded_step`, every `every` steps (the TrainingDynamics callback switches `train_function` to
  it before the step and back after): it also keeps each weight's gradient norm, its norm after the
  step and the norm of the change the optimizer really made (after minus before) in variables.
No second forward pass, no eager round trip: the callbacks read the variables only after a
recorded or a failed step. A `tf.switch_case` of three steps in one function cost every step ~15 %
of an MLP's samples/s here (the untaken branches' optimizer and measuring ops still pass through
TensorFlow's executor): bench/dynamics.py.
"""

import keras
import tensorflow as tf
from keras.src.losses.loss import unscale_loss_for_distribution

PLAIN, RECORDED, FAILED = 0, 1, 2   # what the last step that noted anything did (Probe.outcome)
_UNITS_LAST = ("Dense", "Conv1D", "Conv2D", "Conv3D")   # layers whose kernel's last axis is their units


def instrument(model, every):
    """Give the model's Probe, its train function now the guarded step (a built, compiled model)."""
    probe = Probe(model, every)
    probe.plain = model._make_function(probe.guarded_step)
    probe.recorded = model._make_function(probe.recorded_step)
    model.train_function = probe.plain   # fit keeps a train function it finds (make_train_function)
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
        every: steps between two records, to begin with (the TrainingDynamics callback keeps it after).

    Example:

    ```python
    probe = instrument(model, every=10)
    model.train_function = probe.recorded   # what TrainingDynamics does before a recorded step
    model.fit(x, y, epochs=1, steps_per_epoch=1, verbose=0)
    probe.read()["figures"]   # (weights, 3): grad, weight and update norms of that step
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
        self.every = int(every)
        self.plain = self.recorded = None   # the two train functions (instrument)
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

    def read(self):
        """Give what the last recorded or failed step left: outcome, loss, rate, figures, finite, units (numpy)."""
        return {"outcome": int(self.outcome.numpy()), "loss": float(self.loss.numpy()), "rate": float(self.rate.numpy()),
                "figures": self.figures.numpy(), "finite": self.finite.numpy() > 0.5,
                "units": {name: v.numpy() for (name, _, _), v in zip(self.relu, self.units)}}

    def _forward(self, data):
        """Give (x, y, y_pred, sample_weight, loss, gradients), as Keras's TensorFlow train step computes them."""
        model = self.model
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            y_pred = model(x, training=True) if model._call_has_training_arg else model(x)
            loss = model._compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True)
            model._loss_tracker.update_state(unscale_loss_for_distribution(loss),
                                             sample_weight=tf.shape(next(i for i in tf.nest.flatten(x) if i is not None))[0])
            scaled = model.optimizer.scale_loss(loss)
        return x, y, y_pred, sample_weight, loss, tape.gradient(scaled, self.weights)

    def guarded_step(self, data):
        """Give the step's metrics; apply its update only when its loss is finite."""
        x, y, y_pred, sample_weight, loss, grads = self._forward(data)
        tf.cond(tf.math.is_finite(loss), lambda: self._apply(grads), lambda: self._failed(grads, loss))
        return self.model.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def recorded_step(self, data):
        """Give the step's metrics; apply its update and keep its figures, or fail when a loss or gradient is not finite."""
        x, y, y_pred, sample_weight, loss, grads = self._forward(data)
        norms = tf.stack([_norm(g) for g in self._true_grads(grads)])
        ok = tf.logical_and(tf.math.is_finite(loss), tf.reduce_all(tf.math.is_finite(norms)))
        tf.cond(ok, lambda: self._measured(grads, norms, loss), lambda: self._failed(grads, loss))
        return self.model.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def _apply(self, grads):
        self.model.optimizer.apply(grads, self.weights)
        return tf.constant(0)

    def _true_grads(self, grads):
        scale = self.model.optimizer.loss_scale_factor
        return [tf.zeros_like(w) if g is None else (g / scale if scale else g) for g, w in zip(grads, self.weights)]

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
