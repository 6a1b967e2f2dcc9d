"""One dataset image through augmentation layers, as `fit` would see it: Keras runs the layers with training=True.

This module loads Keras (the web layer does not): the layers are checked against the catalog
(only its Augmentation entries), built by `modelspec/build.py`, and called on copies of one image, so
each call gives fresh random samples as training would. What a preview costs is reckoned first,
from the output shapes the spec check computes (nothing allocated): no layer's output for all the
samples may hold more values than the server's budget (KD_MAX_PREVIEW_PIXELS).
"""

import math

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


def samples(data, spec, split, index, count, max_values, seed=None):
    """Give `count` uint8 images (H', W', C): image `index` of `split` through the layers in training mode.

    SpecError (before any layer runs) when a layer's output for the samples would pass `max_values`.
    """
    keras = build.init_keras()
    image, count = data.image(split, index), min(max(count, 1), MAX_SAMPLES)
    refuse_costly(spec, image.shape, count, max_values)
    pixels = image.astype(np.float32)   # 0..255, as a Keras user's images are
    model = build.build_model(spec, pixels.shape)
    if seed is not None:
        keras.utils.set_random_seed(seed)
    batch = np.repeat(pixels[None], count, axis=0)
    out = keras.ops.convert_to_numpy(model(batch, training=True))
    return [np.clip(img + 0.5, 0, 255).astype(np.uint8) for img in out]


def refuse_costly(spec, shape, count, max_values):
    """Raise SpecError naming `count` or a layer's larger side when `count` samples would pass `max_values` values.

    The input batch is counted, then each layer's output as `build.trace` computes it without
    weights: shapes only, so an 8192×8192 Resizing costs nothing to find out about.
    """
    budget = f"this server previews at most {max_values:,} values (KD_MAX_PREVIEW_PIXELS)"
    each = math.prod(shape)
    if each * count > max_values:
        fits = f"ask for at most {max_values // each} samples" if each <= max_values else "choose another dataset"
        raise SpecError([FieldError(None, "count", f"{count} samples of this {_dims(shape)} image hold "
                                                   f"{each * count:,} values; {budget}: {fits}.")])
    _, rows = build.trace(spec, shape, weights=False)
    for layer, row in zip(spec.layers, rows):
        each = math.prod(row["output_shape"][1:])
        if each * count <= max_values:
            continue
        if "height" not in layer:   # no augmentation layer but the sizing ones makes an image larger
            raise SpecError([FieldError(None, "count", f"{count} samples after layer {row['index']} hold "
                                                       f"{each * count:,} values; {budget}.")])
        field = "width" if layer["width"] > layer["height"] else "height"
        fewer = f", or a count of at most {max_values // each}" if each <= max_values else ""
        raise SpecError([FieldError(row["index"], field, f"Layer {row['index']} ({layer['type']}) makes each sample "
                                    f"{_dims(row['output_shape'][1:])}, {each * count:,} values for {count} samples; "
                                    f"{budget}: a smaller height and width{fewer}.")])


def _dims(shape):
    """Give a shape as the text people read: 2048×2048×1."""
    return "×".join(str(d) for d in shape)
