"""A run's predictions on its test split: stored arrays, gallery rows, filters, the confusion matrix.

The trainer turns model outputs into arrays here (`arrays`) and saves them as predictions.npz; the
web layer loads them back (`Predictions.load`) and pages, filters and scores them. Pure numpy: no
Flask, no Keras. A user's own image is turned into a model input in `user_image.py`.
"""

import collections
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..modelspec import numbers

TOP_K = 5
FILE = "predictions.npz"            # the whole test split, written when a run ends
EPOCH_FILE = "epoch_sample.npz"     # a fixed sample, rewritten after every epoch while training
SAMPLE_SIZE = 100
FILTERS = ("all", "wrong", "right")
SORTS = ("index", "confidence")
ORDERS = ("asc", "desc")
MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
KEYS = ("index", "true", "predicted", "confidence", "top_classes", "top_p", "epoch")


MAX_INDEXES = 1000


class QueryError(ValueError):
    """A query parameter with a value that is not accepted; str() names it and what is."""


def class_probabilities(outputs):
    """Give (N, C) class probabilities from a model's outputs.

    One output unit is a sigmoid p (binary_crossentropy): the two classes get [1 - p, p]. Rows that
    are not probabilities already (a linear last layer gives scores) go through softmax, which keeps
    the argmax, so the predicted class is still `np.argmax(model.predict(x), -1)`.
    """
    out = np.asarray(outputs, dtype=np.float64).reshape(len(outputs), -1)
    if out.shape[1] == 1:
        p = out[:, 0]
        if p.size and (p.min() < 0 or p.max() > 1):
            p = 1.0 / (1.0 + np.exp(-p))
        return np.stack([1.0 - p, p], axis=1)
    valid = out.size == 0 or (out.min() >= 0 and out.max() <= 1 and np.allclose(out.sum(axis=1), 1.0, atol=1e-3))
    if valid:
        return out
    shifted = np.exp(out - out.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def top_classes(outputs, k=TOP_K):
    """Give (predicted (N,), confidence (N,), top classes (N, k), their probabilities (N, k)).

    The order comes from the raw outputs (ties: the lower class first, as np.argmax picks), so
    predicted is exactly np.argmax(outputs, -1) for softmax models and p > 0.5 for one sigmoid unit.
    """
    probs = class_probabilities(outputs)
    raw = np.asarray(outputs, dtype=np.float64).reshape(len(probs), -1)
    order = np.argsort(-(probs if raw.shape[1] == 1 else raw), axis=1, kind="stable")[:, :min(k, probs.shape[1])]
    top_p = np.take_along_axis(probs, order, axis=1)
    return order[:, 0].astype(np.int64), top_p[:, 0].astype(np.float32), order.astype(np.int64), top_p.astype(np.float32)


def arrays(outputs, y_true, epoch, index=None):
    """Give the arrays stored for predictions (of the whole split, or of the images at `index`)."""
    predicted, confidence, top_cls, top_p = top_classes(outputs)
    y_true = np.asarray(y_true, dtype=np.int64).reshape(-1)
    index = np.arange(len(y_true), dtype=np.int64) if index is None else np.asarray(index, dtype=np.int64)
    return {"index": index, "true": y_true, "predicted": predicted, "confidence": confidence,
            "top_classes": top_cls, "top_p": top_p, "epoch": np.int64(epoch)}


def sample_indexes(n, size=SAMPLE_SIZE):
    """Give `size` test indexes spread evenly over the split: a class-sorted split still gives every class."""
    return np.unique(np.linspace(0, n - 1, min(size, n)).round().astype(np.int64)) if n else np.zeros(0, np.int64)


@dataclass
class Predictions:
    """Stored predictions: per image its index in the test split, true and predicted class, top-k."""

    index: np.ndarray
    true: np.ndarray
    predicted: np.ndarray
    confidence: np.ndarray
    top_classes: np.ndarray
    top_p: np.ndarray
    epoch: int
    previous: np.ndarray | None = None   # epoch samples: the prediction of the epoch before (-1: none)
    version: str = ""                     # which write of the file this is (FileCache sets it)

    @classmethod
    def load(cls, path, version=""):
        """Give the predictions stored at `path` (a path or an open file; no pickles are ever loaded)."""
        with np.load(path, allow_pickle=False) as f:
            values = {k: f[k] for k in KEYS}
            previous = f["previous"] if "previous" in f.files else None
        return cls(**{**values, "epoch": int(values["epoch"])}, previous=previous, version=version)

    @property
    def correct(self):
        """Give a boolean per image: predicted == true."""
        return self.predicted == self.true

    def select(self, query):
        """Give (positions matching the query's filters, in its order) for rows()."""
        keep = self._chosen(query)
        if query.filter != "all":
            keep &= self.correct if query.filter == "right" else ~self.correct
        positions = np.flatnonzero(keep)
        if query.sort == "confidence":
            conf = self.confidence[positions]
            # lexsort's last key sorts first; ties keep the test split's order either way.
            positions = positions[np.lexsort((self.index[positions], -conf if query.order == "desc" else conf))]
        else:
            positions = positions[np.argsort(self.index[positions], kind="stable")]
            if query.order == "desc":
                positions = positions[::-1]
        return positions

    def _chosen(self, query):
        """Give the mask of the images of the query's true and predicted classes and indexes (right or wrong)."""
        keep = np.ones(len(self.index), dtype=bool)
        if query.true is not None:
            keep &= self.true == query.true
        if query.pred is not None:
            keep &= self.predicted == query.pred
        if query.indexes is not None:
            keep &= np.isin(self.index, query.indexes)
        return keep

    def counts(self, query):
        """Give how many images of the query's true/pred classes are all, right and wrong."""
        keep = self._chosen(query)
        right = int(np.count_nonzero(keep & self.correct))
        return {"all": int(keep.sum()), "right": right, "wrong": int(keep.sum()) - right}

    def rows(self, positions, class_names):
        """Give the contract's items (without image_url) for these positions."""
        out = []
        for i in positions:
            item = {"index": int(self.index[i]), "true": int(self.true[i]), "predicted": int(self.predicted[i]),
                    "confidence": float(self.confidence[i]),
                    "top": [{"class": int(c), "name": class_name(class_names, c), "p": float(p)}
                            for c, p in zip(self.top_classes[i], self.top_p[i])]}
            if self.previous is not None:
                item["previous"] = int(self.previous[i]) if self.previous[i] >= 0 else None
                item["changed"] = bool(self.previous[i] >= 0 and self.previous[i] != self.predicted[i])
            out.append(item)
        return out


def class_name(class_names, k):
    """Give the name of class k (its number when the dataset has no name for it)."""
    return str(class_names[k]) if 0 <= k < len(class_names) else str(int(k))


@dataclass
class Query:
    """A gallery query: paging, filter, true class, predicted class, sort and order."""

    offset: int = 0
    limit: int = DEFAULT_LIMIT
    filter: str = "all"
    true: int | None = None
    pred: int | None = None
    sort: str = "index"
    order: str = "asc"
    indexes: tuple | None = None   # only these test images (an imported script's predict step)


def whole(args, name, default, lo, hi):
    """Give the whole-number parameter `name` (default when absent); QueryError outside lo..hi."""
    value = args.get(name)
    if value is None or value == "":
        return default
    found = numbers.whole(str(value), lo, hi)
    if found is None:
        raise QueryError(f"{name} must be a whole number from {lo} to {hi}; got {str(value)[:40]!r}.")
    return found


def _choice(args, name, choices, default):
    """Give the parameter `name` when it is one of `choices` (default when absent); QueryError otherwise."""
    value = args.get(name) or default
    if value not in choices:
        raise QueryError(f"{name} must be one of {', '.join(choices)}; got {value!r}.")
    return value


def _indexes(args):
    """Give the `indexes` parameter (comma-separated test image indexes) as a tuple, or None."""
    value = args.get("indexes")
    if not value:
        return None
    found = numbers.wholes(str(value), MAX_INDEXES, 0, 10**9)
    if found is None:
        raise QueryError(f"indexes must be up to {MAX_INDEXES} whole numbers separated by commas; got {str(value)[:40]!r}.")
    return found


def parse_query(args, num_classes):
    """Give the Query a mapping of query parameters asks for; QueryError names a bad one."""
    sort = _choice(args, "sort", SORTS, "index")
    last = max(num_classes - 1, 0)
    return Query(offset=whole(args, "offset", 0, 0, 10**9), limit=whole(args, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT),
                 filter=_choice(args, "filter", FILTERS, "all"), true=whole(args, "true", None, 0, last),
                 pred=whole(args, "pred", None, 0, last), sort=sort,
                 # Most confident first is what a reader of wrong predictions wants to see.
                 order=_choice(args, "order", ORDERS, "desc" if sort == "confidence" else "asc"),
                 indexes=_indexes(args))


def confusion(true, predicted, num_classes):
    """Give the confusion matrix (num_classes, num_classes): rows true, columns predicted."""
    true, predicted = np.asarray(true, np.int64), np.asarray(predicted, np.int64)
    flat = np.bincount(true * num_classes + predicted, minlength=num_classes * num_classes)
    return flat[:num_classes * num_classes].reshape(num_classes, num_classes)


def class_scores(matrix, class_names):
    """Give per class: support, precision, recall and F1 (None where undefined: nothing to divide by)."""
    matrix = np.asarray(matrix)
    hits, actual, guessed = np.diag(matrix), matrix.sum(axis=1), matrix.sum(axis=0)
    out = []
    for k in range(len(matrix)):
        precision = hits[k] / guessed[k] if guessed[k] else None
        recall = hits[k] / actual[k] if actual[k] else None
        f1 = (2 * precision * recall / (precision + recall) if precision is not None and recall is not None
              and precision + recall else None)
        out.append({"class": k, "name": class_name(class_names, k), "support": int(actual[k]),
                    "precision": _float(precision), "recall": _float(recall), "f1": _float(f1)})
    return out


def _float(value):
    """Give a score as a plain float, None staying None."""
    return None if value is None else float(value)


def accuracy(matrix):
    """Give the share of images on the diagonal (None for an empty matrix)."""
    total = int(np.asarray(matrix).sum())
    return float(np.trace(matrix) / total) if total else None


class FileCache:
    """Keeps the last few loaded prediction files; a file rewritten on disk is loaded again.

    The key is the path with its size and modification time, so an atomic rewrite (a continued
    run) is seen at once and a reader never gets a mix of two versions.
    """

    def __init__(self, size=8):
        self.size = size
        self._items = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, path):
        """Give Predictions.load(path), from memory when the file did not change; None when it is absent.

        Its `version` names this write of the file: a sprite URL carrying it never changes its pixels.
        """
        path = Path(path)
        try:
            with open(path, "rb") as file:
                # The open file's own size and time: a rewrite (a new file renamed in) cannot slip in between.
                stat = os.fstat(file.fileno())
                key = (str(path), stat.st_mtime_ns, stat.st_size)
                with self._lock:
                    if key in self._items:
                        self._items.move_to_end(key)
                        return self._items[key]
                value = Predictions.load(file, version=f"{stat.st_mtime_ns:x}-{stat.st_size:x}")
        except FileNotFoundError:
            return None
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value
