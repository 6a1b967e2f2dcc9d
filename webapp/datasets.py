"""The dataset registry: the built-in digits, keras.datasets when cached, and uploads.

A dataset is described by a dict (the contract's fields) and loaded as a `Data`. No Flask here:
trainer processes load their data through the same registry.
"""

from dataclasses import dataclass

import numpy as np


@dataclass
class Data:
    """A dataset's arrays as stored: images (N, H, W, C), integer labels (N,)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list
    pixel_max: float   # the value that scales to 1.0 ([0, 1] pixels, as the contract says)


def _digits():
    """Give scikit-learn's 8x8 digits, split 80/20 reproducibly (stratified, random_state=0)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    x = bunch.images.astype(np.uint8)[..., None]   # values 0..16
    y = bunch.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=0, stratify=y)
    return Data(x_train, y_train, x_test, y_test, [str(i) for i in range(10)], 16.0)


BUILTIN = {
    "digits": {"name": "Digits (scikit-learn, 8×8)", "input_shape": [8, 8, 1], "num_classes": 10,
               "class_names": [str(i) for i in range(10)], "train_size": 1437, "test_size": 360,
               "source": "builtin", "loader": _digits},
}


def describe(ds_id, entry, available=True, message=None):
    """Give the contract's description of a dataset."""
    out = {"id": ds_id, **{k: v for k, v in entry.items() if k != "loader"}, "available": available}
    if message:
        out["message"] = message
    return out


class Registry:
    """Every dataset this instance knows, by id."""

    def __init__(self, data_dir, store=None):
        self.data_dir = data_dir
        self.store = store
        self._cache = {}

    def list(self):
        """Give the description of every dataset, built-in first."""
        return [describe(k, v) for k, v in BUILTIN.items()]

    def info(self, ds_id):
        """Give one dataset's description, or None when there is no such dataset."""
        return next((d for d in self.list() if d["id"] == ds_id), None)

    def ids(self):
        """Give the ids a spec may name."""
        return [d["id"] for d in self.list()]

    def load(self, ds_id):
        """Give the dataset's arrays (kept in memory after the first load)."""
        if ds_id not in self._cache:
            self._cache[ds_id] = BUILTIN[ds_id]["loader"]()
        return self._cache[ds_id]
