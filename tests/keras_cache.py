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
