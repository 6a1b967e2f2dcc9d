"""Remembered shape checks: a layer's output shape and parameter counts, by its settings and input shapes.

They depend on nothing else, and the builder checks the whole model after every edit, so the layers
an edit left unchanged are not built again (a 50-layer graph is checked again in milliseconds).
Only successful checks are kept; errors are always found afresh. Pure data: no Keras import.
"""

import json

SHAPES = {}
MAX_REMEMBERED = 20_000


def key(layer, tensors):
    """Give the key of a layer's shape check: its settings (not its name or wiring), its inputs' shapes and dtypes."""
    settings = json.dumps({k: v for k, v in layer.items() if k not in ("name", "inputs")}, sort_keys=True)
    return settings, tuple(tuple(t.shape) for t in tensors), tuple(str(t.dtype) for t in tensors)


def remember(found, value):
    """Keep (output shape, params, trainable params, dtype) under a key; forget all when the table is full."""
    if found is None:
        return
    if len(SHAPES) >= MAX_REMEMBERED:
        SHAPES.clear()
    SHAPES[found] = value
