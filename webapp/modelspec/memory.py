"""What a model's activations take in memory, estimated from the check's output shapes: arithmetic only, no Keras.

A training step keeps every layer's output for the backward pass, so activation memory is the sum
over layers, not the largest one, and it grows with the batch. Per sample and layer it counts
`output values × BYTES × TRAINING_FACTOR`:

- BYTES: float32, what the dashboard trains in.
- TRAINING_FACTOR = 3: the output itself, kept until the backward pass reaches the layer (1); the
  gradient of the loss with respect to it, made on the way back (1); and what a layer keeps inside
  beside its output (1): a Dense or convolution keeps its pre-activation value for the activation's
  gradient, Dropout its mask, BatchNormalization its normalised input. A generous count on purpose:
  the estimate bounds a request, so it may overshoot; it must never be a fraction of the truth.
  On this CPU build a training step's peak memory grew by 0.3-0.6 of the estimate (Keras's MNIST
  convnet at batch 1024, its CIFAR-10 convnet at batch 512: TensorFlow frees some outputs early);
  a GPU adds cuDNN workspaces, so the margin is kept.
- A recurrent layer keeps its state at every time step for backpropagation through time, whether
  or not it returns the sequence: `steps × per-step output × RECURRENT_KEPT` more (LSTM: four gates,
  the carry and the state, with their activations).

The input batch is counted once (it has no gradient). Weights, their gradients and the optimizer's
slots are not activations: KD_MAX_PARAMS bounds them. Python's integers do not overflow, so a
shape of 10⁹ × 10⁹ is just a big number; the work is one multiplication per dimension.
"""

import math

BYTES = 4
TRAINING_FACTOR = 3
RECURRENT_KEPT = 8
RECURRENT = {"LSTM", "GRU", "SimpleRNN", "ConvLSTM2D", "Bidirectional"}


def values(shape):
    """Give how many values a per-sample shape holds (an unknown dimension counted as 1)."""
    return math.prod(d if isinstance(d, int) and d > 0 else 1 for d in shape)


def _recurrent_steps(layer, in_shape, out_shape):
    """Give how many outputs a recurrent layer keeps for the backward pass (0 for any other layer).

    The time axis is the first of a sample (the second under TimeDistributed, which adds one in
    front); a layer that returns only its last state has one axis fewer than its input.
    """
    kind, axis = layer.get("type"), 0
    if kind == "TimeDistributed":
        kind, axis = (layer.get("layer") or {}).get("type"), 1
    if kind not in RECURRENT or len(in_shape) <= axis:
        return 0
    steps = in_shape[axis] if isinstance(in_shape[axis], int) and len(out_shape) < len(in_shape) else 1
    return values(out_shape) * steps * RECURRENT_KEPT


def per_layer(layers, rows, input_shape):
    """Give the values each layer keeps for a training step, per sample, in the rows' order."""
    outputs = {"input": list(input_shape)}
    previous, counts = list(input_shape), []
    for row in rows:
        layer = layers[row["index"]] if row.get("index") is not None and row["index"] < len(layers) else {}
        out = list(row["output_shape"][1:])
        sources = row.get("inputs") or layer.get("inputs")
        in_shape = outputs.get(sources[0], previous) if sources else previous
        # A backbone (a nested keras.applications model) keeps every one of its own layers' outputs.
        inner = row.get("inner_values", 0) * TRAINING_FACTOR
        counts.append(values(out) * TRAINING_FACTOR + inner + _recurrent_steps(layer, in_shape, out))
        outputs[row.get("name")] = previous = out
    return counts


def estimate(layers, rows, input_shape, batch_size):
    """Give a training step's activation memory: batch_size, bytes, per_sample_bytes, largest_layer(_bytes).

    layers: the spec's canonical layer dicts; rows: the check's rows (index, name, output_shape with
    None for the batch, and inputs for a graph; a backbone's added rows share its index); input_shape: the dataset's,
    per sample. `bytes` is `per_sample_bytes × batch_size`; `largest_layer` is the index of the
    layer that keeps the most (None for no layers), `largest_layer_bytes` what it keeps per sample.
    """
    counts = per_layer(layers, rows, input_shape)
    per_sample = (values(input_shape) + sum(counts)) * BYTES
    largest = max(range(len(counts)), key=counts.__getitem__, default=None)
    return {"batch_size": batch_size, "bytes": per_sample * batch_size, "per_sample_bytes": per_sample,
            "largest_layer": None if largest is None else rows[largest]["index"],
            "largest_layer_bytes": 0 if largest is None else counts[largest] * BYTES}


def largest_batch(per_sample_bytes, limit_bytes):
    """Give the largest batch size whose estimate stays within limit_bytes (0: not even one sample)."""
    return limit_bytes // max(per_sample_bytes, 1)


UNITS = ("B", "KB", "MB", "GB", "TB", "PB", "EB")


def readable(size):
    """Give a byte count as a person reads it: "1.2 GB", "380 MB", "12 KB" (powers of 1024)."""
    if size >= 1024 ** len(UNITS):   # past what a float divides without overflow worries: say so plainly
        return f"more than 1024 {UNITS[-1]}"
    power = 0
    while power < len(UNITS) - 1 and size >= 1024 ** (power + 1):
        power += 1
    scaled = size / 1024 ** power
    return f"{scaled:.1f} {UNITS[power]}" if scaled < 10 and power else f"{scaled:.0f} {UNITS[power]}"
