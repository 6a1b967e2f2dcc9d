"""Whether a run's model may run in the web process: one image's activations against KD_MAX_WEB_ACTIVATION_MB, before it is loaded.

The inside view keeps every layer's output of its pass and takes gradients for saliency, and
predict-one runs the same layers, so one sample's training-step estimate (modelspec/memory.py)
bounds them all. It is judged from the run's stored spec and check summary (its output shapes)
and the dataset's input shape; a run stored without a summary has its shapes checked again (no
weights, no saved model read). A model past the bound is refused with a 422 naming its largest
layer, so the web process never loads or runs it.
"""

from ..modelspec import build, memory
from ..modelspec.fields import FieldError, SpecError
from ..modelspec.validate import validate


def one_sample(spec, summary, input_shape):
    """Give memory.estimate for one sample of a stored run: its spec dict, summary (or None), dataset input shape."""
    layers = spec["model"]["layers"]
    rows = (summary or {}).get("layers")
    if not rows or len(rows) != len(layers):
        checked = validate(spec, require_run=True)
        layers, (_, rows) = checked.layers, build.trace(checked, input_shape, weights=False)
    return memory.estimate(layers, rows, input_shape, 1)


def check(run_id, spec, summary, input_shape, limit_mb):
    """Raise SpecError (422) naming the largest layer when one sample of the run's model passes limit_mb."""
    found = one_sample(spec, summary, input_shape)
    if found["bytes"] <= limit_mb * 2**20:
        return
    index = found["largest_layer"]
    kind = spec["model"]["layers"][index]["type"] if index is not None and index < len(spec["model"]["layers"]) else "?"
    raise SpecError([FieldError(index, "model", (
        f"Run {run_id}'s model needs about {memory.readable(found['bytes'])} of activations for one image "
        f"(layer {index}, {kind}, keeps {memory.readable(found['largest_layer_bytes'])}); this server runs at most "
        f"{limit_mb:,} MB in its web process (KD_MAX_WEB_ACTIVATION_MB), so the inside view and predict-one are "
        "off for it. Download model.keras and run it where there is memory."))])


def per_call(spec, summary, input_shape, limit_mb):
    """Give how many images the run's model may take in one call here (at least 1: check() refused what one cannot)."""
    one = max(one_sample(spec, summary, input_shape)["bytes"], 1)
    return max(1, int(limit_mb * 2**20 // one))
