"""The inside view's trainer callbacks, their hooks called directly on a tiny model, and their pure parts."""

import json

import numpy as np
import pytest

from webapp.predict import heatmaps, inside
from webapp.runs import weight_histograms
from webapp.runs.paths import json_text, read_json


def test_histogram_counts_every_value_with_fixed_bins():
    values = np.concatenate([np.linspace(-1, 1, 997), [np.nan, np.inf, 5.0]])
    h = weight_histograms.histogram(values, bins=10)
    assert len(h["edges"]) == 11 and len(h["counts"]) == 10
    assert sum(h["counts"]) + h["nonfinite"] == values.size and h["nonfinite"] == 2
    assert h["edges"][0] == -1 and h["edges"][-1] == 5
    constant = weight_histograms.histogram(np.zeros(7), bins=4)      # a fresh bias
    assert sum(constant["counts"]) == 7 and constant["edges"][0] < 0 < constant["edges"][-1]


def test_record_replaces_an_epoch_done_again():
    doc = weight_histograms.empty()
    for epoch in (1, 2, 3, 2):                                        # a continue from epoch 1's save
        weight_histograms.record(doc, epoch, [("dense", [("kernel", np.full((2, 3), epoch))])], bins=5)
    entry = doc["layers"][0]["weights"][0]
    assert entry["shape"] == [2, 3] and [e["epoch"] for e in entry["epochs"]] == [1, 2]
    assert json.loads(json_text(doc)) == doc


def test_epochs_kept_as_they_arrive_are_those_kept_of_the_whole_run():
    from webapp.runs.epochs_kept import MOST, kept

    arrived = []
    for epoch in range(1, 1001):
        arrived.append(epoch)
        arrived = [arrived[i] for i in kept(arrived)]
        whole = list(range(1, epoch + 1))
        assert arrived == [whole[i] for i in kept(whole)]         # nothing a later epoch needs was dropped
        assert len(arrived) <= MOST and arrived[0] == 1 and arrived[-1] == epoch
        assert epoch > MOST or arrived == whole
    assert len({b - a for a, b in zip(arrived, arrived[1:-1])}) == 1


def test_heatmap_pictures_are_bounded():
    big = np.random.default_rng(0).random((4000, 3000), dtype=np.float32)
    assert all(32 < side <= 64 for side in heatmaps.shrink(big, 64).shape)
    from PIL import Image
    import io

    grid = Image.open(io.BytesIO(heatmaps.grid(np.random.rand(32, 200, 200))))
    assert max(grid.size) <= heatmaps.MAX_SIDE
    seq = Image.open(io.BytesIO(heatmaps.matrix(np.random.rand(5000, 40))))
    assert max(seq.size) <= 512


@pytest.mark.keras
def test_callbacks_hooks_on_tiny_data(tmp_path):
    from webapp.runs.callbacks import SampleProbabilities, WeightHistograms
    from webapp.modelspec.build import init_keras

    keras = init_keras()
    model = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Conv2D(2, 3), keras.layers.Flatten(),
                              keras.layers.Dense(3, activation="softmax")])
    x = np.random.default_rng(1).random((6, 4, 4, 1)).astype("float32")
    hist = WeightHistograms(tmp_path / weight_histograms.FILE, bins=8)
    sample = SampleProbabilities(tmp_path / inside.LEARNING_FILE, x[:3], np.array([0, 2, 5]))
    for cb in (hist, sample):
        cb.set_model(model)
        cb.on_train_begin()
    for epoch in (0, 1):
        for cb in (hist, sample):
            cb.on_epoch_end(epoch, {})
    doc = read_json(tmp_path / weight_histograms.FILE)
    assert [layer["name"] for layer in doc["layers"]] == [model.layers[0].name, model.layers[2].name]
    for layer, weights in zip(doc["layers"], (model.layers[0].weights, model.layers[2].weights)):
        for entry, w in zip(layer["weights"], weights):
            assert entry["name"] == w.name and [e["epoch"] for e in entry["epochs"]] == [1, 2]
            assert all(sum(e["counts"]) == int(np.prod(w.shape)) for e in entry["epochs"])
    strip = inside.learning(tmp_path, 2)
    assert strip["epochs"] == [1, 2]
    np.testing.assert_allclose(strip["probabilities"][1], model.predict(x[1:2], verbose=0)[0], atol=1e-5)
    assert inside.learning(tmp_path, 1) is None
    # A continued run starts from what is there and replaces the epoch it resumes at.
    again = SampleProbabilities(tmp_path / inside.LEARNING_FILE, x[:3], np.array([0, 2, 5]))
    again.set_model(model)
    again.on_train_begin()
    again.on_epoch_end(1, {})
    assert inside.learning(tmp_path, 0)["epochs"] == [1, 2]


@pytest.mark.keras
def test_the_recorders_write_before_progress_reports(tmp_path):
    from tests.specs import MLP
    from webapp.runs import callbacks
    from webapp.modelspec.validate import validate

    progress = callbacks.Progress(lambda kind, data: None, lambda: False, 64)
    recorders = callbacks.inside_recorders(tmp_path, np.zeros((500, 8, 8, 1), np.float32))
    cbs = callbacks.fit_callbacks(validate(MLP, require_run=True), tmp_path, progress, None, recorders)
    assert [type(c).__name__ for c in cbs] == ["SaveEveryEpoch", "WeightHistograms",
                                              "SampleProbabilities", "Progress"]
    assert len(recorders[1].index) == 100 and recorders[0].path == tmp_path / weight_histograms.FILE
