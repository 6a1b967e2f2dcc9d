"""A run's per-epoch records stay bounded however long it trains: the weight histograms and the
epoch sample's probabilities keep at most epochs_kept.MOST epochs (the first, the last, the rest
evenly spaced), so their files, their rewrite at each epoch and every GET of them stay small."""

import time

import numpy as np
import pytest

from tests.conftest import signed_in
from tests.security.conftest import a_run
from webapp import create_app
from webapp.predict import inside
from webapp.runs import paths, weight_histograms
from webapp.runs.paths import json_text, read_json
from webapp.runs.epochs_kept import MOST

EPOCHS = 300
GET_CPU_BOUND = 1.0     # seconds of this process's CPU for one GET; fixed, a few milliseconds


def assert_thinned(epochs, last):
    """Assert a record's epochs: at most MOST, the first and the last, evenly spaced between."""
    assert len(epochs) <= MOST and epochs[0] == 1 and epochs[-1] == last
    assert len({b - a for a, b in zip(epochs, epochs[1:-1])}) <= 1


@pytest.mark.keras
def test_weight_histograms_keep_at_most_MOST_epochs_in_a_file_that_stops_growing(tmp_path):
    from webapp.modelspec.build import init_keras
    from webapp.runs.callbacks import WeightHistograms

    keras = init_keras()
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8), keras.layers.Dense(3)])
    path = tmp_path / weight_histograms.FILE
    hist = WeightHistograms(path)
    hist.set_model(model)
    hist.on_train_begin()
    rng, sizes = np.random.default_rng(0), {}
    for epoch in range(EPOCHS):
        model.layers[0].kernel.assign(rng.normal(size=(4, 8)) * (1 + epoch / 100))   # weights that move
        hist.on_epoch_end(epoch, {})
        sizes[epoch + 1] = path.stat().st_size
        for layer in read_json(path)["layers"] if epoch % 37 == 0 else ():
            for weight in layer["weights"]:
                assert_thinned([e["epoch"] for e in weight["epochs"]], epoch + 1)
    for layer in read_json(path)["layers"]:
        for weight in layer["weights"]:
            assert_thinned([e["epoch"] for e in weight["epochs"]], EPOCHS)
    assert max(sizes.values()) <= 1.5 * sizes[MOST]


@pytest.mark.keras
def test_the_sample_probabilities_keep_at_most_MOST_epochs_in_a_file_that_stops_growing(tmp_path):
    from webapp.runs.callbacks import SampleProbabilities

    rng = np.random.default_rng(0)
    path = tmp_path / inside.LEARNING_FILE
    sample = SampleProbabilities(path, np.zeros((100, 8, 8, 1), np.float32), np.arange(100),
                                 predict=lambda model, epoch: rng.dirichlet(np.ones(10), size=100))
    sample.on_train_begin()
    sizes = {}
    for epoch in range(EPOCHS):
        sample.on_epoch_end(epoch, {})
        sizes[epoch + 1] = path.stat().st_size
    assert_thinned(inside.learning(tmp_path, 7)["epochs"], EPOCHS)
    assert max(sizes.values()) <= 1.5 * sizes[MOST]


def long_runs_histograms(tensors=10):
    """Give the histograms document of a model of `tensors` weights trained EPOCHS epochs, and one epoch's size."""
    rng = np.random.default_rng(0)
    doc = weight_histograms.empty()
    for epoch in range(1, EPOCHS + 1):
        layers = [(f"dense_{i}", [("kernel", rng.normal(size=(16, 16)))]) for i in range(tensors)]
        weight_histograms.record(doc, epoch, layers)
        if epoch == 1:
            one_epoch = len(json_text(doc))
    return doc, one_epoch


def test_the_histograms_GET_of_a_long_run_is_small_and_quick(tmp_path):
    app = create_app({"KD_DATA_DIR": str(tmp_path / "data"), "KD_WARM_SPARE": "0", "TESTING": True})
    client = signed_in(app)
    run_id = a_run(app, "admin")
    doc, one_epoch = long_runs_histograms()
    folder = paths.run_dir(app.extensions["kd"].data_dir, run_id, create=True)
    (folder / weight_histograms.FILE).write_text(json_text(doc))
    started = time.process_time()
    answer = client.get(f"/api/runs/{run_id}/histograms")
    spent = time.process_time() - started
    assert answer.status_code == 200
    assert len(answer.get_data()) <= (MOST + 8) * one_epoch       # unbounded: EPOCHS * one_epoch
    assert spent < GET_CPU_BOUND
    for layer in answer.get_json()["layers"]:
        assert_thinned([e["epoch"] for e in layer["weights"][0]["epochs"]], EPOCHS)
