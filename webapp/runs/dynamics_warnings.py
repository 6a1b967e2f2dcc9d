"""The warnings a practitioner would give from a run's training dynamics, each naming the Keras layer and what to try.

Pure Python and numpy. `Watch` reads every record of a fit (per layer: its gradient, weight and
update norms; for a ReLU layer, which units got no gradient) and gives the warnings it sets off,
each kind once per layer per fit; `nan_warning` words the stop on a non-finite loss or gradient.
The thresholds below are documented in docs/api.md ("Inside fit"); a healthy run of the built-in
examples sets off none of them (tests/unit/test_fit_dynamics.py).
"""

import math
import statistics

import numpy as np

HEALTHY_RATIO = 1e-3        # update norm / weight norm per step that usually means a layer learns (Karpathy's rule)
VANISHING_FACTOR = 100.0    # vanishing: a layer's ratio this many times below the median of the other layers' ...
VANISHING_RECORDS = 5       # ... on this many records in a row
EXPLODING_RECORDS = 4       # exploding: the gradients' norm rose on this many records in a row ...
EXPLODING_FACTOR = 10.0     # ... and grew this many times over them
DEAD_FRACTION = 0.5         # dead_relu: at least this share of a ReLU layer's units ...
DEAD_RECORDS = 5            # ... got no gradient at all on this many sampled batches in a row


def layer_figures(layers, figures):
    """Give {layer: (gradient norm, weight norm, update norm)} over each layer's weights, from one record.

    layers: the layer name of each weight; figures: one (grad, weight, update) norm triple per weight.
    """
    sums = {}
    for layer, values in zip(layers, figures):
        total = sums.setdefault(layer, [0.0, 0.0, 0.0])
        for i, v in enumerate(values):
            total[i] += float(v) ** 2
    return {layer: tuple(math.sqrt(v) for v in total) for layer, total in sums.items()}


class Watch:
    """Follows one fit's records and gives the warnings each new record sets off.

    Args:
        layers: the names of the layers with trainable weights, in the model's order.

    Example:

    ```python
    watch = Watch(["dense", "dense_1"])
    found = watch.add(1, 7, 7, {"dense": (0.1, 5.0, 1e-9), "dense_1": (0.3, 2.0, 0.01)})
    ```
    """

    def __init__(self, layers):
        self.layers = list(layers)
        self.warned = set()                 # (kind, layer) already warned this fit
        self.low = dict.fromkeys(self.layers, 0)
        self.rises, self.grads = 0, []      # the records' gradient norms while they rise
        self.dead = {}                      # ReLU layer -> records in a row each unit got no gradient

    def add(self, epoch, batch, step, per_layer, dead=None):
        """Give the warnings this record sets off: per_layer is layer_figures', dead {ReLU layer: units with no gradient}."""
        where = {"epoch": int(epoch), "batch": int(batch), "step": int(step)}
        found = self._vanishing(per_layer) + self._exploding(per_layer) + self._dead(dead or {})
        fresh = [(kind, layer, text) for kind, layer, text in found if (kind, layer) not in self.warned]
        self.warned |= {(kind, layer) for kind, layer, _ in fresh}
        return [{"kind": kind, "layer": layer, **where, "message": text} for kind, layer, text in fresh]

    def _vanishing(self, per_layer):
        ratios = {k: u / w for k, (_, w, u) in per_layer.items() if w > 0 and math.isfinite(u / w)}
        found = []
        for layer, ratio in ratios.items():
            others = [r for k, r in ratios.items() if k != layer]
            median = statistics.median(others) if others else 0.0
            self.low[layer] = self.low.get(layer, 0) + 1 if median > 0 and ratio * VANISHING_FACTOR < median else 0
            if self.low[layer] >= VANISHING_RECORDS:
                found.append(("vanishing", layer, (
                    f"{layer} barely learns: its updates have been {ratio:.1e} of its weights for {self.low[layer]} "
                    f"records in a row, over {VANISHING_FACTOR:g}× smaller than the other layers' (median {median:.1e}; "
                    f"about {HEALTHY_RATIO:g} is healthy). The gradient vanishes before it reaches {layer}. Try relu "
                    "with he_normal instead of sigmoid or tanh, BatchNormalization between the layers, or a "
                    "residual path (Add) around the deep part.")))
        return found

    def _exploding(self, per_layer):
        total = math.sqrt(sum(g * g for g, _, _ in per_layer.values()))
        if not math.isfinite(total):
            return []
        self.rises = self.rises + 1 if self.grads and total > self.grads[-1][0] else 0
        self.grads = (self.grads if self.rises else [])[-EXPLODING_RECORDS:] + [(total, per_layer)]
        first = self.grads[0][0]
        if self.rises < EXPLODING_RECORDS or first <= 0 or total < EXPLODING_FACTOR * first:
            return []
        start = self.grads[0][1]
        layer = max(per_layer, key=lambda k: per_layer[k][0] / start[k][0] if start.get(k, (0,))[0] > 0 else 0.0)
        return [("exploding", layer, (
            f"The gradients are exploding: their norm rose on {self.rises} records in a row, {total / first:.0f}× "
            f"in all, most in {layer} (now {per_layer[layer][0]:.2e}). Training is diverging and will overflow to "
            "NaN. Try a lower learning_rate, clipnorm in the optimizer, or BatchNormalization."))]

    def _dead(self, dead):
        found = []
        for layer, units in dead.items():
            units = np.asarray(units, bool)
            streak = self.dead.get(layer)
            streak = np.where(units, (streak if streak is not None and streak.shape == units.shape else 0) + 1, 0)
            self.dead[layer] = streak
            share = float(np.mean(streak >= DEAD_RECORDS)) if streak.size else 0.0
            if share >= DEAD_FRACTION:
                found.append(("dead_relu", layer, (
                    f"{share:.0%} of {layer}'s ReLU units got no gradient on the last {DEAD_RECORDS} sampled "
                    "batches: they output 0 for every input and no longer learn (dead ReLUs). Try a lower "
                    "learning_rate, he_normal initialisation, LeakyReLU or ELU instead of relu, or "
                    "BatchNormalization before the activation.")))
        return found


def nan_warning(epoch, batch, step, loss, bad_gradient=None, bad_weight=None, largest=None):
    """Give the `nan` warning of a step whose loss or gradient was not finite.

    bad_gradient: the layer of the first non-finite gradient, going back from the loss (where it
    began), or None; bad_weight: a layer whose weights were already not finite (a gradient that
    overflowed on an earlier, unrecorded step was applied), or None; largest: (layer, norm) of the
    largest gradient when every gradient was finite, or None.
    """
    if loss is None or not math.isfinite(loss):
        text = f"The loss became NaN at epoch {epoch}, batch {batch}" + (" (it was inf)" if loss and math.isinf(loss) else "")
        if bad_gradient:
            text += f"; the first non-finite gradient was in {bad_gradient}"
        elif largest:
            text += f"; the gradients were still finite, the largest in {largest[0]} (norm {largest[1]:.2g})"
    else:
        text = (f"A gradient became NaN at epoch {epoch}, batch {batch}, in {bad_gradient}, while the loss was "
                f"{loss:.3g}")
    if bad_weight:
        kept = f"the weights of {bad_weight} had already overflowed, so model.keras keeps the last epoch's weights"
    else:
        kept = "that batch's update was not applied, so model.keras keeps the last good weights"
    layer = bad_gradient or bad_weight or (largest[0] if largest else None)
    return {"kind": "nan", "layer": layer, "epoch": int(epoch), "batch": int(batch),
            "step": int(step), "message": (f"{text}, so training stopped; {kept}. Try a lower learning_rate, "
                                           "clipnorm, or BatchNormalization.")}
