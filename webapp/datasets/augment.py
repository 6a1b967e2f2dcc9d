"""One dataset image through augmentation layers, as `fit` would see it: Keras runs the layers with training=True.

This module loads Keras (the web layer does not): the layers are checked against the catalog
(only its Augmentation entries), built by `modelspec/build.py`, and called on copies of one image, so
each call gives fresh random samples as training would.
"""

import numpy as np

from ..modelspec import build
from ..modelspec.catalog import LAYERS
from ..modelspec.validate import FieldError, SpecError, validate

MAX_SAMPLES = 16


def check(layers):
    """Give the checked augmentation layers (Rescaling, Resizing, Random*); SpecError names the bad one."""
    if not isinstance(layers, list) or not layers:
        raise SpecError([FieldError(None, "layers", "Give a list of augmentation layers (e.g. RandomFlip).")])
    for i, layer in enumerate(layers):
        entry = LAYERS.get(layer.get("type")) if isinstance(layer, dict) else None
        if entry is None or entry.category != "Augmentation":
            raise SpecError([FieldError(i, "type", "Only augmentation layers (Rescaling, Resizing, RandomFlip, "
                                                        "RandomRotation, ...) can be previewed.")])
    return validate({"dataset": "preview", "model": {"layers": layers}})


def samples(data, spec, split, index, count, seed=None):
    """Give `count` uint8 images (H', W', C): image `index` of `split` through the layers in training mode."""
    keras = build.init_keras()
    pixels = data.image(split, index).astype(np.float32)   # 0..255, as a Keras user's images are
    model = build.build_model(spec, pixels.shape)
    if seed is not None:
        keras.utils.set_random_seed(seed)
    batch = np.repeat(pixels[None], min(max(count, 1), MAX_SAMPLES), axis=0)
    out = keras.ops.convert_to_numpy(model(batch, training=True))
    return [np.clip(img + 0.5, 0, 255).astype(np.uint8) for img in out]
