"""Per-epoch weight distributions of a run: a fixed-bin histogram per weight tensor, stored as JSON.

The trainer's WeightHistograms callback records one histogram per tensor at each epoch end
(`record`); the API reads the file back (`load`). Pure numpy, no Keras, no Flask. The document is
the contract's answer: {"layers": [{"name", "weights": [{"name", "shape", "epochs": [{"epoch",
"edges", "counts"}]}]}]}. Counts sum to the tensor's size; values that are not finite (after a NaN
loss) are counted apart, in "nonfinite", so the sum still holds. Each weight keeps at most
`epochs_kept.MOST` epochs (the first, the last, the rest evenly thinned), so the document, its
rewrite each epoch and every read of it stay bounded however long the run.
"""

import numpy as np

from . import epochs_kept

FILE = "histograms.json"
BINS = 30


def histogram(values, bins=BINS):
    """Give {"edges": bins + 1 floats, "counts": bins ints, "nonfinite": int} of a tensor's values."""
    flat = np.asarray(values, dtype=np.float64).reshape(-1)
    finite = flat[np.isfinite(flat)]
    if finite.size:
        lo, hi = float(finite.min()), float(finite.max())
    else:
        lo = hi = 0.0
    if hi <= lo:                           # a constant tensor (a fresh bias): one value, centred
        lo, hi = lo - 0.5, hi + 0.5
    counts, edges = np.histogram(finite, bins=bins, range=(lo, hi))
    return {"edges": [round(float(e), 7) for e in edges], "counts": counts.astype(int).tolist(),
            "nonfinite": int(flat.size - finite.size)}


def empty():
    """Give a document with no layers yet."""
    return {"layers": []}


def record(doc, epoch, layers, bins=BINS):
    """Add one epoch to the document: layers is [(layer name, [(weight name, array), ...]), ...].

    An epoch recorded again (a continued run that resumes from an earlier save) replaces what
    was recorded for it and after it, so epochs always rise; then the epochs are thinned (epochs_kept).
    """
    by_name = {layer["name"]: layer for layer in doc["layers"]}
    for layer_name, weights in layers:
        layer = by_name.get(layer_name)
        if layer is None:
            layer = by_name[layer_name] = {"name": layer_name, "weights": []}
            doc["layers"].append(layer)
        tensors = {w["name"]: w for w in layer["weights"]}
        for weight_name, values in weights:
            entry = tensors.get(weight_name)
            if entry is None:
                entry = tensors[weight_name] = {"name": weight_name, "shape": list(np.shape(values)), "epochs": []}
                layer["weights"].append(entry)
            epochs = [e for e in entry["epochs"] if e["epoch"] < epoch] + [{"epoch": int(epoch), **histogram(values, bins)}]
            entry["epochs"] = [epochs[i] for i in epochs_kept.kept([e["epoch"] for e in epochs])]
    return doc

