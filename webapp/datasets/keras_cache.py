"""keras.datasets read straight from Keras's own cache; the web process never downloads anything.

Where Keras 3 (3.15: keras/src/datasets/*.py through keras/src/utils/file_utils.get_file) keeps them,
under `$KERAS_HOME/datasets/` (or `~/.keras/datasets/`; `/tmp/.keras/datasets/` when that is read-only):

| id            | files                                                                   | hash checked by Keras |
| mnist         | `mnist.npz` (x_train (60000, 28, 28) uint8, y_train, x_test, y_test)    | sha256 731c5ac6…      |
| fashion_mnist | `fashion-mnist/{train,t10k}-{labels-idx1,images-idx3}-ubyte.gz`          | none                  |
| cifar10       | `cifar-10-batches-py-target_archive` (the .tar.gz), extracted on every  | sha256 6d958be0… (of  |
|               | load_data() to `cifar-10-batches-py-target/cifar-10-batches-py/`        | the archive)          |
| imdb          | `imdb.npz` (x_train, x_test: object arrays of lists of word ranks;      | sha256 69664113…      |
|               | y_train, y_test), `imdb_word_index.json` ({word: rank}, optional here)  | md5 bfafd718…         |
| reuters       | `reuters.npz` (x: lists of word ranks, y: 46 topics),                   | sha256 d6586e69…      |
|               | `reuters_word_index.json` (optional here)                               | md5 4d44cc38…         |

We read the same files into the same arrays load_data() gives, with numpy: the npz with
allow_pickle=False, the IDX files by their headers, and the CIFAR batches (pickles written by their
publisher) with an unpickler that rebuilds numpy arrays and nothing else, as Keras's own
`RestrictedUnpickler` does. No hash is checked here (Keras would re-download on a mismatch); the
arrays' shapes and labels are checked instead. imdb and reuters are read as their npz holds them
(object_npz.py: a restricted unpickler, the lists checked); load_data's options are applied by
options.py when a run names them. A word index is only read to show the words.
"""

import gzip
import json
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np

from .object_npz import FormatError, NumpyOnlyUnpickler
from .object_npz import read as object_npz_read

FASHION_FILES = ("train-labels-idx1-ubyte.gz", "train-images-idx3-ubyte.gz",
                 "t10k-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz")
CIFAR_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)
# Keras 3.15 extracts into the first folder; older Keras and tf.keras extracted into the second.
CIFAR_DIRS = ("cifar-10-batches-py-target/cifar-10-batches-py", "cifar-10-batches-py")

KERAS = {
    "mnist": {"name": "MNIST (keras.datasets, 28×28)", "input_shape": [28, 28, 1], "num_classes": 10,
              "class_names": [str(i) for i in range(10)], "train_size": 60000, "test_size": 10000},
    "fashion_mnist": {"name": "Fashion-MNIST (keras.datasets, 28×28)", "input_shape": [28, 28, 1],
                      "num_classes": 10,
                      "class_names": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                                      "Sneaker", "Bag", "Ankle boot"],
                      "train_size": 60000, "test_size": 10000},
    "cifar10": {"name": "CIFAR-10 (keras.datasets, 32×32 RGB)", "input_shape": [32, 32, 3], "num_classes": 10,
                "class_names": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                                "truck"],
                "train_size": 50000, "test_size": 10000},
    # Sequences: sizes are those of Keras's files until loaded; input_shape [null] until maxlen is given.
    "imdb": {"name": "IMDB reviews (keras.datasets, word ranks)", "kind": "sequence", "input_shape": [None],
             "num_classes": 2, "class_names": ["negative", "positive"], "train_size": 25000, "test_size": 25000,
             "pixel_max": 1.0, "options_schema": "keras_sequence", "vocabulary_size": None},
    "reuters": {"name": "Reuters newswires (keras.datasets, word ranks)", "kind": "sequence", "input_shape": [None],
                "num_classes": 46, "class_names": [
                    "cocoa", "grain", "veg-oil", "earn", "acq", "wheat", "copper", "housing", "money-supply",
                    "coffee", "sugar", "trade", "reserves", "ship", "cotton", "carcass", "crude", "nat-gas", "cpi",
                    "money-fx", "interest", "gnp", "meal-feed", "alum", "oilseed", "gold", "tin", "strategic-metal",
                    "livestock", "retail", "ipi", "iron-steel", "rubber", "heat", "jobs", "lei", "bop", "zinc",
                    "orange", "pet-chem", "dlr", "gas", "silver", "wpi", "hog", "lead"],   # reuters.get_label_names()
                "train_size": 8982, "test_size": 2246, "pixel_max": 1.0, "options_schema": "keras_sequence",
                "vocabulary_size": None},
}
SEQUENCES = {"imdb": (("x_train", "x_test"), ("y_train", "y_test")), "reuters": (("x",), ("y",))}


class CacheError(Exception):
    """A cached file that is there but cannot be read as the dataset; the message names the file."""


def keras_home():
    """Give Keras's cache folder as keras/src/backend/config.py picks it (KERAS_HOME, else ~/.keras)."""
    if "KERAS_HOME" in os.environ:
        return Path(os.environ["KERAS_HOME"]).expanduser()
    base = Path("~").expanduser()
    return (base if os.access(base, os.W_OK) else Path("/tmp")) / ".keras"


def cache_dir():
    """Give the `datasets` folder get_file() uses (it falls back to /tmp/.keras when home is read-only)."""
    home = keras_home()
    if home.exists() and not os.access(home, os.W_OK):
        return Path("/tmp/.keras/datasets")
    return home / "datasets"


def files(ds_id):
    """Give the cached files this dataset is read from, in the first place where all of them exist."""
    root = cache_dir()
    if ds_id == "mnist":
        return [root / "mnist.npz"]
    if ds_id == "fashion_mnist":
        return [root / "fashion-mnist" / name for name in FASHION_FILES]
    if ds_id in SEQUENCES:
        return [root / f"{ds_id}.npz"]
    options = [[root / d / b for b in CIFAR_BATCHES] for d in CIFAR_DIRS]
    return next((o for o in options if all(p.is_file() for p in o)), options[0])


def missing_message(ds_id):
    """Give why the dataset is unavailable (what to put where), or None when its files are cached."""
    paths = files(ds_id)
    absent = [p for p in paths if not p.is_file()]
    if not absent:
        return None
    fetch = (f"Running `keras.datasets.{ds_id}.load_data()` once on a machine with internet fills its Keras "
             f"cache (~/.keras/datasets/); copy the files from there. Where this server has internet, "
             f"`flask --app wsgi datasets fetch {ds_id}` does it in one step.")
    if ds_id == "mnist":
        return f"Not in the Keras cache: put mnist.npz at {paths[0]}. {fetch}"
    if ds_id in SEQUENCES:
        return (f"Not in the Keras cache: put {ds_id}.npz at {paths[0]} (and {ds_id}_word_index.json beside it "
                f"to read the texts as words; `keras.datasets.{ds_id}.get_word_index()` caches it). {fetch}")
    if ds_id == "fashion_mnist":
        return f"Not in the Keras cache: put {', '.join(p.name for p in absent)} in {paths[0].parent}/. {fetch}"
    return (f"Not in the Keras cache: put the extracted CIFAR-10 batches (data_batch_1..5, test_batch) in "
            f"{paths[0].parent}/. {fetch} Or put cifar-10-python.tar.gz at "
            f"{cache_dir() / 'cifar-10-batches-py-target_archive'} and run "
            f"`flask --app wsgi datasets fetch cifar10` here to unpack it.")


def signature(ds_id):
    """Give (path, size, mtime) of each cached file, so a replaced file is noticed."""
    out = []
    for p in files(ds_id):
        try:
            st = p.stat()
            out.append((str(p), st.st_size, st.st_mtime_ns))
        except OSError:
            out.append((str(p), None, None))
    return tuple(out)


def word_index_path(ds_id):
    """Give where Keras caches a sequence dataset's word index (get_word_index())."""
    return cache_dir() / f"{ds_id}_word_index.json"


def read_sequences(ds_id):
    """Give {key: array} of imdb.npz or reuters.npz (object_npz.read); raise CacheError naming the file."""
    path = files(ds_id)[0]
    (xs, ys), top = SEQUENCES[ds_id], KERAS[ds_id]["num_classes"] - 1
    try:
        arrays = object_npz_read(path, xs, ys)
    except (FormatError, OSError, EOFError, ValueError, TypeError, zipfile.BadZipFile, pickle.UnpicklingError) as exc:
        raise CacheError(f"The cached {ds_id} at {path} is not in the format of Keras's {path.name} ({exc}); "
                         f"delete it and fetch it again.") from None
    for key in ys:
        y = arrays[key]
        if len(y) and (y.min() < 0 or y.max() > top):
            raise CacheError(f"The cached {ds_id} at {path} has labels {y.min()}..{y.max()} in {key}; Keras's are "
                             f"0..{top}. Delete it and fetch it again.")
    return arrays


def read_word_index(ds_id, max_bytes=64 * 2**20):
    """Give the cached word index {word: rank}, or None when it is not cached; CacheError when it is not one."""
    path = word_index_path(ds_id)
    if not path.is_file():
        return None
    try:
        if path.stat().st_size > max_bytes:
            raise ValueError(f"it is over {max_bytes // 2**20} MB")
        index = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(index, dict) or not all(isinstance(w, str) and type(r) is int for w, r in index.items()):
            raise ValueError("it is not an object of words and whole-number ranks")
    except (OSError, ValueError) as exc:
        raise CacheError(f"The cached word index {path} could not be read ({exc}); delete it and fetch it again "
                         f"(`keras.datasets.{ds_id}.get_word_index()`).") from None
    return index


def read(ds_id):
    """Give (x_train, y_train, x_test, y_test) from the cache; raise CacheError naming a bad file."""
    paths = files(ds_id)
    reader = {"mnist": _mnist, "fashion_mnist": _fashion, "cifar10": _cifar}[ds_id]
    try:
        arrays = reader(paths)
    except CacheError:
        raise
    except (OSError, EOFError, ValueError, KeyError, TypeError, zipfile.BadZipFile, pickle.UnpicklingError) as exc:
        where = paths[0] if len(paths) == 1 else paths[0].parent
        raise CacheError(f"The cached {ds_id} at {where} could not be read ({exc}); "
                         f"delete it and fetch it again.") from None
    _check(ds_id, arrays, paths)
    return arrays


def _mnist(paths):
    """Give the arrays of mnist.npz (read with allow_pickle=False)."""
    with np.load(paths[0], allow_pickle=False) as f:
        return f["x_train"], f["y_train"], f["x_test"], f["y_test"]


def _idx(path, ndim):
    """Give the uint8 array of a gzipped IDX file (magic 0x0801 labels, 0x0803 images)."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    head = 4 + 4 * ndim
    if len(raw) < head or int.from_bytes(raw[:4], "big") != 0x0800 + ndim:
        raise CacheError(f"{path} is not an IDX file of unsigned bytes with {ndim} dimension(s).")
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, np.uint8, offset=head)
    if data.size != int(np.prod(dims)):
        raise CacheError(f"{path} holds {data.size} bytes of data but its header says {dims}.")
    return data.reshape(dims)


def _fashion(paths):
    """Give the arrays of the four Fashion-MNIST IDX files."""
    y_train, x_train, y_test, x_test = (_idx(p, 1 if "labels" in p.name else 3) for p in paths)
    return x_train, y_train, x_test, y_test


def _cifar_batch(path):
    """Give (images (n, 32, 32, 3) uint8, labels int64) of one CIFAR-10 batch pickle."""
    with open(path, "rb") as f:
        batch = NumpyOnlyUnpickler(f, encoding="bytes").load()
    batch = {k.decode() if isinstance(k, bytes) else k: v for k, v in batch.items()}
    data = np.asarray(batch["data"], dtype=np.uint8)
    # Rows are 3072 bytes: the red plane, then green, then blue (channels first).
    images = data.reshape(len(data), 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), np.asarray(batch["labels"], dtype=np.int64)


def _cifar(paths):
    """Give the arrays of the five training batches and the test batch."""
    train = [_cifar_batch(p) for p in paths[:5]]
    x_test, y_test = _cifar_batch(paths[5])
    return np.concatenate([x for x, _ in train]), np.concatenate([y for _, y in train]), x_test, y_test


def _check(ds_id, arrays, paths):
    """Raise CacheError unless the arrays are images (N, H, W[, C]) with labels 0..9 of the same length."""
    where = paths[0] if len(paths) == 1 else paths[0].parent
    x_train, y_train, x_test, y_test = arrays
    for x, y, split in ((x_train, y_train, "train"), (x_test, y_test, "test")):
        ok = x.ndim in (3, 4) and x.dtype == np.uint8 and len(x) == len(y) and len(y) > 0
        ok = ok and np.issubdtype(y.dtype, np.integer) and y.size == len(y) and 0 <= y.min() and y.max() < 10
        if not ok:
            raise CacheError(f"The cached {ds_id} at {where} does not hold {split} images with labels 0..9 "
                             f"(images {x.shape} {x.dtype}, labels {y.shape} {y.dtype}); delete it and fetch it again.")
