"""Fine-tuning a model's backbones as the Keras transfer-learning guide does: unfreeze the top N layers, keep BatchNormalization frozen, recompile at a low rate.

In Keras 3 a BatchNormalization layer runs in inference mode (its moving statistics untouched)
only when its own `trainable` is False; the `training=False` of the block's call does not hold
once `fit` runs (keras-team/keras#20285), so every BatchNormalization layer of a backbone gets
`trainable = False` here, and tests check the moving statistics themselves.
"""

from ..modelspec import build

# Said in the run's phases: a recompiled model gets a new optimizer, whose slots are built for the
# new set of trainable weights; Keras keeps no mapping from the old optimizer's slots to them.
OPTIMIZER_NOTE = ("recompiled with a new {kind} at learning_rate {lr:g}: its state (moment estimates) starts "
                  "afresh, as Keras builds an optimizer's slots for one set of trainable weights")


def backbones(model, spec):
    """Give the model's nested keras.applications blocks: its layers that are models (only a backbone layer of
    a spec makes one; EfficientNetV2's keeps Keras's own name, so names cannot say)."""
    keras = build.init_keras()
    return [layer for layer in model.layers if isinstance(layer, keras.Model)]


def unfreeze(keras, block, count):
    """Make the top `count` layers of a backbone trainable ("all": every one), every BatchNormalization frozen; give how many are."""
    block.trainable = True
    layers = block.layers
    top = len(layers) if count == "all" else min(int(count), len(layers))
    for i, layer in enumerate(layers):
        layer.trainable = i >= len(layers) - top and not isinstance(layer, keras.layers.BatchNormalization)
    return sum(1 for layer in layers if layer.trainable and layer.weights)


def apply(model, spec, count, learning_rate):
    """Unfreeze the model's backbones and recompile it at `learning_rate`; give the note the run's phase keeps."""
    keras = build.init_keras()
    blocks = backbones(model, spec)
    trained = sum(unfreeze(keras, block, count) for block in blocks)
    chosen = {k: v for k, v in spec.compile["optimizer"].items() if k != "schedule"}
    optimizer = build.make_optimizer({**chosen, "learning_rate": float(learning_rate)})
    model.compile(optimizer=optimizer, loss=spec.compile["loss"], metrics=list(spec.compile["metrics"]))
    note = OPTIMIZER_NOTE.format(kind=chosen["type"], lr=learning_rate)
    return f"{trained} layers with weights of {', '.join(b.name for b in blocks) or 'no backbone'} trainable " \
           f"(BatchNormalization kept frozen); {note}"
