"""Why the model chose a class: Grad-CAM on a feature-map layer, gradient × input without one, integrated gradients for tokens.

Grad-CAM (Selvaraju et al., as keras.io's "Grad-CAM class activation visualization" does it):
the class score's gradient with respect to a layer's feature maps, averaged per channel, weighs
those maps; the ReLU of the sum is where the model looked. The score is the class's logit when the
last layer is a softmax Dense (a saturated probability has almost no gradient), else its output.
Models with no convolution get gradient × input instead, and the answer says why.
"""

from dataclasses import dataclass

import numpy as np

from .inside import InsideError, Loaded

MAX_MAP = 64            # a map sent as numbers is at most this wide and tall
STEPS = 32              # integrated gradients' steps from a zero embedding to the text's
PATH_VALUES = 2**21     # embedded values in one batch of those steps (8 MB of float32): longer texts take fewer


@dataclass
class Saliency:
    """A saliency map in [0, 1] for one class, how it was made, and why that way."""

    method: str                 # "grad-cam" or "gradient-x-input"
    layer: str | None
    klass: int
    map: np.ndarray             # (h, w), the max is 1 unless the map is all zero
    note: str
    uniform: bool


def choose(loaded: Loaded, layer=None):
    """Give (method, layer name, note) for a request; InsideError names the layers it accepts."""
    features, convs = loaded.feature_layers, loaded.conv_layers
    if layer:
        if layer not in features:
            accepted = ", ".join(features) or "none: this model has no layer with (height, width, channels) outputs"
            raise InsideError(f"layer: {layer!r} has no feature maps for Grad-CAM; accepted: {accepted}.")
        return "grad-cam", layer, f"Grad-CAM on {layer}."
    if convs:
        return "grad-cam", convs[-1], f"Grad-CAM on the last convolution layer, {convs[-1]}."
    return "gradient-x-input", None, ("This model has no convolution layer, so there are no feature maps for "
                                      "Grad-CAM to weigh; this is gradient × input: how much each pixel, "
                                      "nudged, would move the class's score, times the pixel.")


def _gradients(loaded, layer):
    """Give a compiled function (x, class) -> (feature maps or x, the class score's gradient there), cached per layer."""
    if layer in loaded.saliency_models:
        return loaded.saliency_models[layer]
    import tensorflow as tf

    from ..modelspec.build import init_keras

    model = loaded.model
    dense, before_last, output = _last(loaded)
    first = loaded.tensors[layer] if layer else model.inputs[0]
    probe = init_keras().Model(model.inputs, [first, before_last, output])

    @tf.function(reduce_retracing=True)
    def gradients(x, klass):
        with tf.GradientTape() as tape:
            tape.watch(x)
            maps, last_input, out = probe([x], training=False)
            score = _score(dense, last_input, out, klass)
        return maps, tape.gradient(score, maps)

    loaded.saliency_models[layer] = gradients
    return gradients


def _last(loaded, sigmoid=False):
    """Give (the last layer when it is a softmax Dense (or a sigmoid one) else None, its input tensor, the model's output tensor)."""
    last = loaded.layers[-1]
    squashes = ("softmax", "sigmoid") if sigmoid else ("softmax",)
    dense = last if type(last).__name__ == "Dense" and getattr(last.activation, "__name__", "") in squashes else None
    output = loaded.model.outputs[0]
    return dense, input_of(output), output


def input_of(tensor):
    """Give the (first) input tensor of the layer call that made `tensor` in the model's graph."""
    operation, node_index, _ = tensor._keras_history
    return operation._inbound_nodes[node_index].input_tensors[0]


def check_class(loaded, klass):
    """Raise InsideError unless klass is one of the model's classes (one sigmoid unit: 0 or 1)."""
    classes = int(np.prod(loaded.model.outputs[0].shape[1:]))
    classes = 2 if classes == 1 else classes
    if not 0 <= klass < classes:
        raise InsideError(f"class must be a whole number from 0 to {classes - 1}; got {klass}.")


def compute(loaded, x, klass, layer=None):
    """Give the Saliency of class `klass` for the image x (1, H, W, C); InsideError for a bad class or layer."""
    import tensorflow as tf

    check_class(loaded, klass)
    method, layer, note = choose(loaded, layer)
    gradients = _gradients(loaded, layer if method == "grad-cam" else None)
    maps, grads = gradients(tf.convert_to_tensor(x), tf.constant(klass, tf.int32))
    maps, grads = np.asarray(maps)[0], np.asarray(grads)[0]
    if method == "grad-cam":
        heat = np.maximum((maps * grads.mean(axis=(0, 1))).sum(axis=2), 0)
    else:
        heat = np.abs(maps * grads).sum(axis=2)
    top = float(heat.max())
    return Saliency(method, layer, klass, heat / top if top > 0 else heat, note, bool(np.ptp(heat) == 0))


def _score(dense, last_input, output, klass):
    """Give the class's score: its logit for a softmax (or sigmoid) Dense, else the output (one sigmoid: p or 1 - p)."""
    import tensorflow as tf

    if dense is not None:
        logits = tf.matmul(last_input, dense.kernel) + (dense.bias if dense.use_bias else 0.0)
        if logits.shape[1] == 1:   # one sigmoid unit: class 1's logit is z, class 0's is -z (1 - p = sigmoid(-z))
            return tf.where(klass == 1, logits[:, 0], -logits[:, 0])
        return tf.gather(logits, klass, axis=1)
    # The width from the static shape: a reshape to (batch, -1) leaves it unknown inside a tf.function.
    flat = tf.reshape(output, (-1, int(np.prod(output.shape[1:]))))
    if flat.shape[1] == 1:      # one sigmoid unit (Dense(1) then Activation("sigmoid")): class 1 is p, class 0 is 1 - p
        return tf.where(klass == 1, flat[:, 0], 1.0 - flat[:, 0])
    return tf.gather(flat, klass, axis=1)


def as_numbers(saliency):
    """Give the map as nested lists, averaged down to at most MAX_MAP a side."""
    from .heatmaps import shrink

    return np.round(shrink(saliency.map, MAX_MAP), 4).tolist()


def layer_of_type(loaded, name):
    """Give the model's first layer of Keras type `name` (e.g. "Embedding", "TextVectorization"), or None."""
    return next((layer for layer in loaded.layers if type(layer).__name__ == name), None)


def _token_gradients(loaded):
    """Give a compiled function (x, class, steps) -> (token ids, each token's integrated gradients).

    The model is split at its Embedding: a front model from the inputs to the token ids and the
    Embedding's output (and its mask, when mask_zero), and a back model from those to the output.
    One GradientTape pass over a batch of `steps` scaled copies of the embedded tokens (1/steps ..
    1 times them) gives the mean gradient along the path from a zero embedding; times the
    embedding, summed over its axis, that is each token's integrated gradients (Sundararajan et
    al.), which sum to the score's change from the zero input. steps 1 is gradient × input.
    """
    if "tokens" in loaded.saliency_models:
        return loaded.saliency_models["tokens"]
    import tensorflow as tf

    from ..modelspec.build import init_keras

    keras = init_keras()
    embedding = layer_of_type(loaded, "Embedding")
    if embedding is None:
        raise InsideError("This model has no Embedding layer, so its tokens have no attribution to show.")
    embedded = loaded.tensors[embedding.name]
    # A mask_zero Embedding's mask rides beside its output; the back model takes it as a second input.
    mask = getattr(embedded, "_keras_mask", None)
    dense, before_last, output = _last(loaded, sigmoid=True)   # logits: a saturated probability has no gradient
    front = keras.Model(loaded.model.inputs, [input_of(embedded), embedded] + ([mask] if mask is not None else []))
    back = keras.Model([embedded] + ([mask] if mask is not None else []), [before_last, output])

    @tf.function(reduce_retracing=True)
    def gradients(x, klass, steps):
        ids, vectors, *masks = front([x], training=False)
        vectors = tf.identity(vectors)   # its mask goes in as the back model's own input, not attached
        alphas = tf.reshape(tf.range(1, steps + 1, dtype=vectors.dtype) / tf.cast(steps, vectors.dtype), (-1, 1, 1))
        path = alphas * vectors
        with tf.GradientTape() as tape:
            tape.watch(path)
            last_input, out = back([path, *[tf.repeat(m, steps, axis=0) for m in masks]], training=False)
            score = tf.reduce_sum(_score(dense, last_input, out, klass))
        mean = tf.reduce_mean(tape.gradient(score, path), axis=0)
        return ids, tf.reduce_sum(vectors[0] * mean, axis=-1)

    loaded.saliency_models["tokens"] = gradients
    return gradients


def token_attribution(loaded, x, klass, steps=STEPS):
    """Give (token ids (T,), each token's integrated gradients for class `klass` (T,)) for one input x.

    The steps are fewer for a long input (at most PATH_VALUES embedded values in the batch).
    """
    import tensorflow as tf

    check_class(loaded, klass)
    steps = _steps(loaded, x, steps)
    ids, attribution = _token_gradients(loaded)(tf.convert_to_tensor(x), tf.constant(klass, tf.int32),
                                                 tf.constant(steps, tf.int32))
    return np.asarray(ids).reshape(-1), np.asarray(attribution, dtype=np.float64).reshape(-1)


def _steps(loaded, x, steps):
    """Give how many integrated-gradients steps fit PATH_VALUES for this input (a text of unknown length: 2,000 tokens)."""
    embedding = layer_of_type(loaded, "Embedding")
    if embedding is None:
        return steps
    _, length, *rest = loaded.shape(embedding)
    x = np.asarray(x)
    length = length or (x.shape[-1] if x.dtype != object else 2000)
    return max(1, min(steps, PATH_VALUES // max(1, length * int(np.prod([d or 1 for d in rest])))))


def vocabulary(loaded):
    """Give the TextVectorization layer's vocabulary (index -> token), or None when the model has none."""
    layer = layer_of_type(loaded, "TextVectorization")
    return None if layer is None else [str(t) for t in layer.get_vocabulary()]


def input_attribution(loaded, x, klass):
    """Give gradient × input on the input x (1, T, ...) for class `klass`, summed past the first axis: a series over time, a bag of words per word."""
    import tensorflow as tf

    check_class(loaded, klass)
    inputs, grads = _gradients(loaded, None)(tf.convert_to_tensor(x, tf.float32), tf.constant(klass, tf.int32))
    product = np.asarray(inputs, dtype=np.float64)[0] * np.asarray(grads, dtype=np.float64)[0]
    return product.reshape(product.shape[0], -1).sum(axis=1)
