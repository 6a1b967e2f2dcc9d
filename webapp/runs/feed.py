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
"""

import math

from ..spec import build


def fit_inputs(x, y, x_test, y_test, fit):
    """Give (training data, validation data or None) for `fit`, from the arrays and the spec's fit settings."""
    batch_size, validation = fit["batch_size"], fit["validation"]
    if validation == "test":
        held_out = (x_test, y_test)
    elif validation == "none":
        held_out = None
    else:
        x, y, held_out = _split(x, y, validation)
    train = batches(x, y, batch_size, shuffle=fit["shuffle"])
    return train, held_out and batches(*held_out, batch_size, shuffle=False)


def batches(x, y, batch_size, shuffle):
    """Give a tf.data.Dataset of (x, y) batches over the arrays, in a new order each epoch if shuffle."""
    build.init_keras()
    import tensorflow as tf

    count = len(x)
    x, y = tf.convert_to_tensor(x), tf.convert_to_tensor(y)

    def order(_):
        indices = tf.range(count, dtype=tf.int64)
        return tf.random.shuffle(indices) if shuffle else indices

    def gather(indices):
        return tf.gather(x, indices), tf.gather(y, indices)

    options = tf.data.Options()
    options.autotune.enabled = False
    # Each new iterator (one per epoch) draws a new permutation, as Keras's adapter does.
    data = (tf.data.Dataset.range(1).map(order)
            .flat_map(lambda indices: tf.data.Dataset.from_tensor_slices(indices).batch(batch_size))
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
