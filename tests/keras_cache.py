"""Tiny files in the formats of Keras's dataset cache: mnist.npz, Fashion-MNIST IDX .gz, CIFAR-10 batches."""

import gzip
import pickle

import numpy as np


def _arrays(n_train, n_test, shape, seed):
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, (n_train, *shape), dtype=np.uint8), rng.integers(0, 10, n_train, dtype=np.uint8),
            rng.integers(0, 256, (n_test, *shape), dtype=np.uint8), rng.integers(0, 10, n_test, dtype=np.uint8))


def write_mnist(datasets_dir, n_train=6, n_test=3, seed=0):
    """Write datasets_dir/mnist.npz as keras.datasets.mnist caches it; give (x_train, y_train, x_test, y_test)."""
    arrays = _arrays(n_train, n_test, (28, 28), seed)
    datasets_dir.mkdir(parents=True, exist_ok=True)
    np.savez(datasets_dir / "mnist.npz", **dict(zip(("x_train", "y_train", "x_test", "y_test"), arrays)))
    return arrays


def _idx(path, array):
    """Write a gzipped IDX file: magic 0x08 (unsigned bytes) + number of dimensions, the dimensions, the data."""
    head = (0x0800 + array.ndim).to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(head + array.tobytes())


def write_fashion_mnist(datasets_dir, n_train=4, n_test=2, seed=1):
    """Write the four IDX .gz files keras.datasets.fashion_mnist caches; give the arrays."""
    x_train, y_train, x_test, y_test = arrays = _arrays(n_train, n_test, (28, 28), seed)
    folder = datasets_dir / "fashion-mnist"
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in (("train-labels-idx1-ubyte.gz", y_train), ("train-images-idx3-ubyte.gz", x_train),
                        ("t10k-labels-idx1-ubyte.gz", y_test), ("t10k-images-idx3-ubyte.gz", x_test)):
        _idx(folder / name, array)
    return arrays


def cifar_batch_bytes(data, labels):
    """Give a CIFAR-10 batch pickle: {b"data": uint8 (n, 3072) channels first, b"labels": [int]}.

    The publisher's files come from Python 2 and numpy 1, so the array is rebuilt through
    `numpy.core.multiarray._reconstruct`; the same spelling is written here.
    """
    raw = pickle.dumps({b"batch_label": b"fake batch", b"labels": [int(v) for v in labels], b"data": data,
                        b"filenames": [b"x.png"] * len(labels)}, protocol=3)
    return raw.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")


def write_cifar10(datasets_dir, per_batch=2, folder="cifar-10-batches-py-target/cifar-10-batches-py", seed=2):
    """Write data_batch_1..5 and test_batch as Keras 3.15 extracts them; give the channels-first rows and labels."""
    rng = np.random.default_rng(seed)
    target = datasets_dir / folder
    target.mkdir(parents=True, exist_ok=True)
    rows, labels = [], []
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        y = rng.integers(0, 10, per_batch)
        (target / name).write_bytes(cifar_batch_bytes(data, y))
        rows.append(data)
        labels.append(y)
    return np.concatenate(rows[:5]), np.concatenate(labels[:5]), rows[5], labels[5]


# IMDB and Reuters: npz files of object arrays (lists of word ranks, 1 = the most frequent word), saved
# with np.savez as Keras's own files are, and a word index {word: rank} in JSON.
POSITIVE_RANK, NEGATIVE_RANK = 7, 9   # the planted words: "great" in positive reviews, "awful" in negative ones


def word_index(vocabulary):
    """Give a word index {word: rank} of `vocabulary` words, ranks 1.., with the planted words named."""
    words = {rank: f"w{rank}" for rank in range(1, vocabulary + 1)}
    words.update({1: "the", 2: "and", POSITIVE_RANK: "great", NEGATIVE_RANK: "awful"})
    return {word: rank for rank, word in words.items()}


def _reviews(labels, length, vocabulary, rng, planted, signal_ranks):
    """Give an object array of rank lists: random words of 20..vocabulary, each with its class's word `planted` times."""
    out = np.empty(len(labels), dtype=object)
    for i, label in enumerate(labels):
        n = int(rng.integers(length // 2, length + length // 2 + 1))
        seq = rng.integers(20, vocabulary + 1, n)
        if planted:
            seq[rng.choice(n, min(planted, n), replace=False)] = signal_ranks[int(label)]
        out[i] = [int(w) for w in seq]
    return out


def write_imdb(datasets_dir, n_train=200, n_test=200, length=40, vocabulary=500, planted=4, seed=3):
    """Write imdb.npz (x_train, y_train, x_test, y_test; x object arrays of lists) and imdb_word_index.json.

    Each review has ~length words; label 1 reviews carry POSITIVE_RANK `planted` times, label 0 ones
    NEGATIVE_RANK (planted=0: no signal). Give the arrays as written.
    """
    import json

    rng = np.random.default_rng(seed)
    y_train, y_test = rng.integers(0, 2, n_train), rng.integers(0, 2, n_test)
    ranks = {0: NEGATIVE_RANK, 1: POSITIVE_RANK}
    x_train = _reviews(y_train, length, vocabulary, rng, planted, ranks)
    x_test = _reviews(y_test, length, vocabulary, rng, planted, ranks)
    datasets_dir.mkdir(parents=True, exist_ok=True)
    np.savez(datasets_dir / "imdb.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    (datasets_dir / "imdb_word_index.json").write_text(json.dumps(word_index(vocabulary)))
    return x_train, y_train, x_test, y_test


def write_reuters(datasets_dir, n=300, length=30, vocabulary=400, num_classes=4, planted=3, seed=4):
    """Write reuters.npz (x, y; x an object array of lists) and reuters_word_index.json; give (x, y).

    Class c's newswires carry rank 10 + c `planted` times (planted=0: no signal).
    """
    import json

    rng = np.random.default_rng(seed)
    y = rng.integers(0, num_classes, n)
    x = _reviews(y, length, vocabulary, rng, planted, {c: 10 + c for c in range(num_classes)})
    datasets_dir.mkdir(parents=True, exist_ok=True)
    np.savez(datasets_dir / "reuters.npz", x=x, y=y)
    (datasets_dir / "reuters_word_index.json").write_text(json.dumps(word_index(vocabulary)))
    return x, y


def write_application_weights(models_dir, kind, args, size, seed=4):
    """Write keras.applications.KIND's no-top ImageNet weights file as Keras caches it (the legacy h5 layout that
    its `load_weights` reads for a `.h5` name), with values of its own; give (path, the weights in get_weights order).

    Every value is moved off its initial one (BatchNormalization's moving statistics too), so a test can tell
    them from what a build without weights gives.
    """
    import h5py
    import keras
    from keras.src.legacy.saving import legacy_h5_format

    from webapp.modelspec import pretrained

    model = getattr(keras.applications, kind)(weights=None, include_top=False, input_shape=(size, size, 3), **args)
    rng = np.random.default_rng(seed)
    # Scaled and shifted a little: signs kept (a ReLU6 stays in its range), zeros and ones moved.
    model.set_weights([(w * rng.uniform(0.9, 1.1, w.shape) + rng.uniform(-0.01, 0.01, w.shape)).astype(w.dtype)
                       for w in model.get_weights()])
    models_dir.mkdir(parents=True, exist_ok=True)
    path = models_dir / pretrained.weights_file(kind, args, size)
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)
    return path, model.get_weights()
