"""Pixel statistics of a dataset: the mean image of each class and a histogram of pixel values, computed in chunks."""

import numpy as np

BINS = 32
CHUNK_BYTES = 2**18   # float32 pixels at a time: the statistics never hold a float copy of more (a builder's peak)


def compute(data, num_classes):
    """Give {"means": uint8 (K, H, W, C) mean image per class (training split), "edges", "counts" (C, BINS)}.

    Values are on the 0..255 scale whatever the dataset's pixel_max, as the page shows them.
    """
    x, y = data.x_train, data.y_train
    sums = np.zeros((num_classes, *x.shape[1:]), np.float64)
    counts = np.zeros((x.shape[-1], BINS), np.int64)
    edges = np.linspace(0, 255, BINS + 1)
    step = max(1, CHUNK_BYTES // (4 * max(1, int(np.prod(x.shape[1:])))))
    for start in range(0, len(x), step):
        chunk = x[start:start + step].astype(np.float32) * (255.0 / data.pixel_max)
        labels = y[start:start + step]
        for k in np.unique(labels):
            sums[k] += chunk[labels == k].sum(axis=0, dtype=np.float64)
        for c in range(x.shape[-1]):
            counts[c] += np.histogram(np.clip(chunk[..., c], 0, 255), bins=edges)[0]
    per_class = np.maximum(np.bincount(y, minlength=num_classes), 1).reshape(-1, *[1] * (x.ndim - 1))
    means = np.clip(sums / per_class + 0.5, 0, 255).astype(np.uint8)
    return {"means": means, "edges": edges, "counts": counts}


def save(path, out):
    """Write the statistics to `path` (an .npz, read back with allow_pickle=False)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        np.savez(f, **out)


def load(path):
    """Give the statistics kept at `path`."""
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in ("means", "edges", "counts")}


def histogram(out):
    """Give the histogram as JSON-ready data: {"edges": [...], "counts": [[per bin] per channel]}."""
    return {"edges": [round(float(e), 2) for e in out["edges"]], "counts": out["counts"].tolist()}
