"""What `fit` trains and validates on: the arrays, fed as Keras feeds arrays, with tf.data's autotuning off.

Given NumPy arrays, `fit` builds a tf.data pipeline (Keras's ArrayDataAdapter: each epoch a new
permutation of the indices, cut into batches, each batch gathered from the arrays on parallel
threads and prefetched) and makes a new iterator of it every epoch. With TensorFlow 2.21 and
Keras 3.15, dropping the previous epoch's iterator when the next epoch begins blocks the training
thread in that iterator's destructor (`RootDataset::Iterator::~Iterator`, waiting on the thread
that autotunes the pipeline) for 3 to 4 s with every core idle, in a third to all of the epochs
of a run, in plain Keras too: on bench/runs.py's convnet (20,000 images, 2 cores) an epoch took
about 6.2 s without the stall and 10 s with it. The same pipeline with
`options.autotune.enabled = False` has no such thread and no stall (7 epochs in a row at 5.8 to
6.5 s); bench/runs.py shows the dashboard beside plain Keras.

Nothing else changes: the batches, their order and the last partial batch are those of
`fit(x, y, batch_size=..., shuffle=...)`, and validation_split takes the last samples before any
shuffling, as Keras does. The exported train.py keeps the plain `fit(x, y, ...)` people write.

Pixels come as they are stored (uint8 for most datasets) and TensorFlow makes the float32 array
to train on, the same numbers `x.astype("float32") * scale` gives: NumPy's two float copies and
TensorFlow's copy of them took 0.1-0.2 s of a run's start (bench/runs.py's 20,000 28x28 images,
186 MB; now a uint8 copy and one float array, 78 MB).
"""

import math

from ..modelspec import build


def fit_inputs(x, y, x_test, y_test, fit, scale=None):
    """Give (training data, validation data or None) for `fit`, from the arrays and the spec's fit settings.

    scale: None if x and x_test are the float32 pixels to train on; else the factor that maps the stored
    pixels to [0, 1] (1 / pixel_max), applied once, in TensorFlow (see batches).
    """
    batch_size, validation = fit["batch_size"], fit["validation"]
    if validation == "test":
        held_out = (x_test, y_test)
    elif validation == "none":
        held_out = None
    else:
        x, y, held_out = _split(x, y, validation)
    train = batches(x, y, batch_size, shuffle=fit["shuffle"], scale=scale)
    return train, held_out and batches(*held_out, batch_size, shuffle=False, scale=scale)


def scaled(x, scale):
    """Give pixels as float32 multiplied by `scale` (numbers equal to those of each batch `batches` gathers)."""
    import numpy as np

    return x.astype(np.float32) * np.float32(scale)


def batches(x, y, batch_size, shuffle, scale=None):
    """Give a tf.data.Dataset of (x, y) batches over the arrays, in a new order each epoch if shuffle.

    scale: see fit_inputs; x is then `scaled(x, scale)`, made by TensorFlow from the stored pixels.
    """
    build.init_keras()
    import numpy as np
    import tensorflow as tf

    count = len(x)
    x, y = tf.convert_to_tensor(x), tf.convert_to_tensor(y)
    if scale is not None:   # once: scaling each gathered batch instead used more CPU per epoch in an A/B here
        x = tf.cast(x, tf.float32) * np.float32(scale)

    def gather(indices):
        return tf.gather(x, indices), tf.gather(y, indices)

    # Each function given to map is traced as the dataset is made (~15-45 ms each, the run's first batch
    # waits for them): two for shuffled data, one for data in order. Each new iterator (one per epoch)
    # draws a new permutation, as Keras's adapter does.
    if shuffle:
        indices = (tf.data.Dataset.range(1).map(lambda _: tf.random.shuffle(tf.range(count, dtype=tf.int64)))
                   .unbatch())
    else:
        indices = tf.data.Dataset.range(count)
    options = tf.data.Options()
    options.autotune.enabled = False
    data = (indices.batch(batch_size)
            .map(gather, num_parallel_calls=tf.data.AUTOTUNE)
            .prefetch(tf.data.AUTOTUNE)
            .with_options(options))
    # flat_map hides the length; Keras needs it for the steps of an epoch (its progress and ours).
    return data.apply(tf.data.experimental.assert_cardinality(math.ceil(count / batch_size)))


def _split(x, y, fraction):
    """Give (x, y, (x_val, y_val)): the last `fraction` of the samples held out, as fit's validation_split does."""
    split_at = int(math.floor(len(x) * (1.0 - fraction)))
    if split_at in (0, len(x)):
        raise ValueError(f"Training data contains {len(x)} samples, which is not sufficient to split it into a "
                         f"validation and training set as specified by `validation_split={fraction}`.")
    return x[:split_at], y[:split_at], (x[split_at:], y[split_at:])
