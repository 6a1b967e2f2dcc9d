"""What fit trains on (runs/feed.py): the batches fit(x, y) would make, with tf.data's autotuning off."""

import numpy as np
import pytest

from tests.specs import MLP, spec
from webapp.runs import feed, trainer
from webapp.modelspec.build import init_keras
from webapp.modelspec.validate import validate

pytestmark = pytest.mark.keras
keras = init_keras()
DIGITS = {"input_shape": [8, 8, 1], "num_classes": 10}
CHECKED = validate(spec(MLP), require_run=True)


def data(count=70):
    """Give (x, y): random 8x8x1 images and one-hot labels of 10 classes."""
    rng = np.random.default_rng(0)
    return rng.random((count, 8, 8, 1), dtype=np.float32), np.eye(10, dtype="float32")[rng.integers(0, 10, count)]


def trained(fit_it):
    """Seed, build the run's model as the trainer does, give (its history after fit_it(model), its weights)."""
    keras.utils.set_random_seed(7)
    model = trainer.new_model(CHECKED, DIGITS)
    history = fit_it(model)
    return history.history, model.get_weights()


def stored(count=70):
    """Give (pixels, y): random 8x8x1 images as most datasets store them (uint8, 0..255), one-hot labels."""
    x, y = data(count)
    return (x * 255).astype(np.uint8), y


def fit_fed(model, x, y, settings, scale=None):
    """Fit as the trainer does (the data made after the seed is set: its permutation draws from it)."""
    train, held_out = feed.fit_inputs(x, y, None, None, settings, scale)
    return model.fit(train, validation_data=held_out, shuffle=False, epochs=2, verbose=0)


# In order on float pixels; shuffled on stored uint8 pixels that the feed scales (as a run does).
@pytest.mark.parametrize("shuffle", [False, True])
def test_seeded_it_trains_as_fit_on_the_arrays_with_a_validation_split(shuffle):
    pixels, y = stored() if shuffle else data()
    scale = 1 / 255 if shuffle else None
    x = feed.scaled(pixels, scale) if shuffle else pixels
    settings = {"batch_size": 16, "shuffle": shuffle, "validation": 0.2}   # 56 to train: 3 full batches and one of 8
    plain = trained(lambda m: m.fit(x, y, batch_size=16, shuffle=shuffle, validation_split=0.2, epochs=2, verbose=0))
    fed = trained(lambda m: fit_fed(m, pixels, y, settings, scale))
    assert plain[0].keys() == fed[0].keys() == {"loss", "accuracy", "val_loss", "val_accuracy"}
    for key in plain[0]:
        np.testing.assert_allclose(fed[0][key], plain[0][key], rtol=1e-5)
    for a, b in zip(fed[1], plain[1]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_each_shuffled_epoch_sees_every_sample_once_in_a_new_order():
    tf = keras.src.utils.module_utils.tensorflow
    tf.random.set_seed(None)   # as in a run; with a global seed, Keras's own fit shuffles alike every epoch
    x, _ = data()
    index = np.arange(len(x), dtype="float32")   # the "labels" say which sample each row is
    train = feed.batches(x, index, 16, shuffle=True)
    epochs = [[(images.numpy(), rows.numpy().astype(int)) for images, rows in train] for _ in range(2)]
    assert [len(rows) for _, rows in epochs[0]] == [16, 16, 16, 16, 6]
    for epoch in epochs:
        for images, rows in epoch:
            np.testing.assert_array_equal(images, x[rows])   # each image beside its own label
        assert sorted(np.concatenate([rows for _, rows in epoch])) == list(range(len(x)))
    assert not np.array_equal(epochs[0][0][1], epochs[1][0][1])


def test_stored_pixels_come_scaled_in_each_batch_as_numbers_equal_to_the_scaled_arrays():
    pixels, y = stored()
    train, held_out = feed.fit_inputs(pixels, y, None, None, {"batch_size": 16, "shuffle": False, "validation": 0.2},
                                      scale=1 / 255)
    for dataset, rows in ((train, slice(0, 56)), (held_out, slice(56, 70))):
        images = np.concatenate([batch.numpy() for batch, _ in dataset])
        assert images.dtype == np.float32
        np.testing.assert_array_equal(images, feed.scaled(pixels[rows], 1 / 255))   # to the last bit
    assert feed.scaled(pixels, 1 / 255).max() <= 1.0


def test_the_steps_of_an_epoch_are_known_and_autotuning_is_off():
    x, y = data()
    train, held_out = feed.fit_inputs(x, y, x[:10], y[:10], {"batch_size": 32, "shuffle": True, "validation": "test"})
    assert int(train.cardinality()) == 3 and int(held_out.cardinality()) == 1
    # The autotuning thread is what stalled each new epoch for seconds (the module's docstring).
    assert train.options().autotune.enabled is False


def test_no_validation_and_a_split_too_small_for_the_data():
    x, y = data(2)
    assert feed.fit_inputs(x, y, x, y, {"batch_size": 2, "shuffle": False, "validation": "none"})[1] is None
    with pytest.raises(ValueError, match="2 samples, which is not sufficient"):   # Keras's words
        feed.fit_inputs(x, y, x, y, {"batch_size": 2, "shuffle": False, "validation": 0.6})
