"""A dataset's arrays (`Data`), the built-in digits, and the description and class statistics made from them."""

from dataclasses import dataclass, field

import numpy as np

SAMPLES_PER_CLASS = 8
FIELDS = ("name", "input_shape", "num_classes", "class_names", "train_size", "test_size", "train_counts",
          "test_counts", "pixel_max")
SPLITS = ("train", "test")
KINDS = ("image", "text", "sequence", "series")
OOV_TOKEN = "[oov]"   # a word rank the word index does not name (cut by num_words or skip_top, or unknown)


class DatasetError(Exception):
    """A dataset that is unknown or cannot be loaded here; str() says why and what to do."""


@dataclass
class Data:
    """A dataset's arrays, with its dataset_options applied; labels int64 (N,) for every kind.

    kind "image": (N, H, W, C), scaled by 1/pixel_max in the feed. "sequence": int32 (N, maxlen) word
    ranks padded and cut as keras.utils.pad_sequences does, or float32 (N, num_words) for mode
    "binary". "text": an object array of str (N,). "series": float32 (N, length, 1). pixel_max is 1.0
    for every kind but image. meta: what a kind needs besides, e.g. {"vocabulary_size", "word_index"
    (word -> rank as the dataset's word index has it, or None), "index_from", "maxlen"}.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list
    pixel_max: float   # the value that scales to 1.0 ([0, 1] pixels, as the contract says)
    kind: str = "image"
    meta: dict = field(default_factory=dict)

    @property
    def nbytes(self):
        """Give the memory the arrays take."""
        return sum(a.nbytes for a in (self.x_train, self.y_train, self.x_test, self.y_test))

    def image(self, split, index):
        """Give one image of a split as uint8 (H, W, C), pixel_max mapped to 255; IndexError past the end.

        DatasetError for a dataset of another kind (its samples are texts, sequences or series).
        """
        if self.kind != "image":
            raise DatasetError(f"This is a {self.kind} dataset: its samples are not images.")
        x = self.x_train if split == "train" else self.x_test
        if not 0 <= index < len(x):
            raise IndexError(f"index {index} is outside the {split} split ({len(x)} images: 0..{len(x) - 1}).")
        img = x[index]
        if img.dtype == np.uint8 and self.pixel_max == 255:
            return img
        return (np.clip(img.astype(np.float32) / self.pixel_max, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)

    def sample(self, split, index):
        """Give one sample of a split (x[index]); IndexError past the end."""
        x = self.x_train if split == "train" else self.x_test
        if not 0 <= index < len(x):
            raise IndexError(f"index {index} is outside the {split} split ({len(x)} samples: 0..{len(x) - 1}).")
        return x[index]

    def text(self, split, index):
        """Give one text sample as a str: a text as it is; a sequence's word ranks decoded with the word index.

        Padding (0) is dropped; start_char reads "[start]"; a rank the index does not name (oov_char,
        cut words) reads OOV_TOKEN. Without a word index the ranks are given as numbers. A binary
        (bag of words) row gives the words present, in rank order.
        """
        x = self.sample(split, index)
        if self.kind == "text":
            return str(x)
        ranks = np.flatnonzero(x) if x.dtype.kind == "f" else np.asarray(x)[np.asarray(x) != 0]
        words = self.meta.get("index_words")
        if words is None and self.meta.get("word_index") is not None:
            words = self.meta["index_words"] = _index_words(self.meta)
        if words is None:
            return " ".join(str(int(r)) for r in ranks)
        return " ".join(words.get(int(r), OOV_TOKEN) for r in ranks)

    def token(self, i):
        """Give the word a sequence's id `i` stands for, as text() decodes it (its number without a word index)."""
        words = self.meta.get("index_words")
        if words is None and self.meta.get("word_index") is not None:
            words = self.meta["index_words"] = _index_words(self.meta)
        return str(int(i)) if words is None else words.get(int(i), OOV_TOKEN)

    def series(self, split, index):
        """Give one series sample as a list of floats."""
        return [float(v) for v in np.asarray(self.sample(split, index)).reshape(-1)]


def _index_words(meta):
    """Give {rank: word} for a sequence dataset's word index, as keras.datasets.imdb.get_word_index's example builds it."""
    shift = meta.get("index_from", 3)
    words = {int(rank) + shift: word for word, rank in meta["word_index"].items()}
    if meta.get("start_char") is not None:
        words[meta["start_char"]] = "[start]"
    if meta.get("oov_char") is not None:
        words[meta["oov_char"]] = OOV_TOKEN
    return words


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
               "pixel_max": 16.0, "source": "builtin", "loader": _digits},
}


def describe(ds_id, entry, available=True, message=None):
    """Give the contract's description of a dataset (class counts are None until known).

    kind defaults to "image" and vocabulary_size to None; a text dataset's entry adds "input_dtype"
    ("string"), and a dataset that takes dataset_options names them in "dataset_options"
    (options.describe: each option's default and bounds).
    """
    out = {"id": ds_id, **{k: entry.get(k) for k in FIELDS}, "available": available, "source": entry["source"],
           "state": "ready", "kind": entry.get("kind") or "image", "vocabulary_size": entry.get("vocabulary_size")}
    for extra in ("input_dtype", "options_schema", "dataset_options", "max_length"):
        if entry.get(extra) is not None:
            out[extra] = entry[extra]
    if message:
        out["message"] = message
    return out


def stats(data, num_classes):
    """Give the shape, sizes, class counts and the first few sample indexes per class of loaded arrays."""
    return {"input_shape": list(data.x_train.shape[1:]), **label_stats(data.y_train, data.y_test, num_classes)}


def label_stats(y_train, y_test, num_classes):
    """Give the split sizes, class counts and the first few sample indexes per class of the labels."""
    return {"train_size": len(y_train), "test_size": len(y_test),
            "train_counts": np.bincount(y_train, minlength=num_classes).tolist(),
            "test_counts": np.bincount(y_test, minlength=num_classes).tolist(),
            "samples": {"train": _samples(y_train, num_classes), "test": _samples(y_test, num_classes)}}


def _samples(y, num_classes):
    """Give, per class, the indexes of its first SAMPLES_PER_CLASS images."""
    order = np.argsort(y, kind="stable")
    starts = np.searchsorted(y[order], np.arange(num_classes))
    counts = np.bincount(y, minlength=num_classes)
    return [order[s:s + min(c, SAMPLES_PER_CLASS)].tolist() for s, c in zip(starts, counts)]


def channels_last(x):
    """Give images as (N, H, W, C): a grayscale (N, H, W) array gets C = 1."""
    return x[..., None] if x.ndim == 3 else x
