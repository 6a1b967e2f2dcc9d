"""The inside view against Keras computed directly here: a small CNN and an RNN trained for real on the digits.

The test downloads each run's model.keras and calls its layers one by one (`layer(h,
training=False)`), so the numbers do not come from the dashboard's probe; then it checks the API's
activations, probabilities, Grad-CAM, pictures, weight histograms, and every refusal.
"""

import contextlib
import io

import numpy as np
import pytest
from PIL import Image

from tests.conftest import signed_in
from tests.integration.runs_helpers import get, start, wait_for
from tests.integration.test_predictions_api import digits_test_split, downloaded_model
from tests.specs import CNN, spec
from webapp import create_app
from webapp.db.store import Run

pytestmark = pytest.mark.keras
SMALL_CNN = spec(CNN, model={"layers": [
    {"type": "Conv2D", "filters": 8, "kernel_size": [3, 3], "activation": "relu"},
    {"type": "Conv2D", "filters": 40, "kernel_size": [3, 3], "activation": "relu"},
    {"type": "MaxPooling2D", "pool_size": [2, 2]},
    {"type": "Dropout", "rate": 0.25},
    {"type": "Flatten"},
    {"type": "Dense", "units": 32, "activation": "relu"},
    {"type": "Dense", "units": 10, "activation": "softmax"},
]}, fit={"epochs": 2, "batch_size": 32, "validation": "test"})
RNN = spec(CNN, name="rnn", model={"layers": [
    {"type": "Reshape", "target_shape": [8, 8]},
    {"type": "SimpleRNN", "units": 12, "return_sequences": True},
    {"type": "Flatten"},
    {"type": "Dense", "units": 10, "activation": "softmax"},
]}, compile={"optimizer": {"type": "Adam", "learning_rate": 0.01}, "loss": "categorical_crossentropy",
             "metrics": ["accuracy"]}, fit={"epochs": 1, "batch_size": 64, "validation": "test"})


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Give (client, app, cnn run id, rnn run id, folder): both runs trained at once."""
    tmp = tmp_path_factory.mktemp("inside")
    app = create_app({"KD_DATA_DIR": str(tmp / "data"), "KD_WARM_SPARE": "0", "KD_MAX_CONCURRENT_RUNS": "2",
                      "TESTING": True})
    client = signed_in(app)
    cnn, rnn = start(client, SMALL_CNN), start(client, RNN)
    for run_id in (cnn, rnn):   # two trainers at once: on a busy machine that takes minutes, not seconds
        run = wait_for(lambda: get(client, run_id), timeout=600)
        assert run["status"] == "completed", run["error"]
    return client, app, cnn, rnn, tmp


def inside(client, run_id, index, **params):
    r = client.get(f"/api/runs/{run_id}/inside/{index}", query_string=params)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def png_size(client, url):
    """Give (width, height) of the PNG at url (it must answer 200 image/png)."""
    r = client.get(url)
    assert r.status_code == 200 and r.mimetype == "image/png", r.data[:200]
    return Image.open(io.BytesIO(r.data)).size


def test_activations_are_keras_layer_by_layer(world):
    client, _, cnn, _, tmp = world
    model = downloaded_model(client, cnn, tmp)
    x_test, y_test = digits_test_split()
    for index in (0, 17):
        body = inside(client, cnn, index)
        h = x_test[index][None, ..., None].astype("float32") / 16.0
        assert body["true"] == int(y_test[index])
        assert [p["name"] for p in body["layers"]] == [layer.name for layer in model.layers]
        for layer, panel in zip(model.layers, body["layers"]):
            h = layer(h, training=False)
            out = np.asarray(h)[0]
            assert panel["output_shape"][1:] == list(out.shape)
            if out.ndim == 3:
                order = panel["order"]
                np.testing.assert_allclose(panel["means"], out.mean(axis=(0, 1))[order], rtol=1e-4, atol=1e-5)
                np.testing.assert_allclose(panel["maxima"], out.max(axis=(0, 1))[order], rtol=1e-4, atol=1e-5)
                assert panel["means"] == sorted(panel["means"], reverse=True)   # the strongest first
            elif panel["kind"] == "probabilities":
                np.testing.assert_allclose([p["p"] for p in panel["probabilities"]], out, rtol=1e-4, atol=1e-6)
            else:
                np.testing.assert_allclose(panel["values"], out.reshape(-1), rtol=1e-4, atol=1e-5)
        expected = model.predict(x_test[index][None, ..., None] / 16.0, verbose=0)[0]
        np.testing.assert_allclose(body["probabilities"], expected, rtol=1e-4, atol=1e-6)
        assert body["predicted"] == int(np.argmax(expected))
    kinds = [p["kind"] for p in body["layers"]]
    assert kinds == ["maps", "maps", "maps", "identity", "vector", "vector", "probabilities"]
    assert "identity when Keras predicts" in body["layers"][3]["note"]


def test_channel_pages_and_pictures(world):
    client, _, cnn, _, _ = world
    body = inside(client, cnn, 3)
    conv = body["layers"][1]                      # 40 channels: two pages of 32
    assert conv["channels"] == 40 and len(conv["pages"]) == 2
    sizes = [png_size(client, url) for url in conv["pages"]]
    assert sizes[0][1] > sizes[1][1]              # 32 tiles in 4 rows of 8, then one row of 8
    assert png_size(client, body["saliency"]["image_url"])[0] >= 8
    kw, kh = png_size(client, body["kernels"]["image_url"])
    assert kw > kh > 0                            # 8 filters of 3×3, one row
    r = client.get(f"/api/runs/{cnn}/inside/3/layers/4.png")
    assert r.status_code == 400 and "bars" in r.get_json()["error"]["message"]


def test_grad_cam(world):
    client, _, cnn, _, _ = world
    body = inside(client, cnn, 5)
    cam = body["saliency"]
    assert cam["method"] == "grad-cam" and cam["layer"] == "conv2d_1" and cam["class"] == body["predicted"]
    assert np.shape(cam["map"]) == (4, 4)         # conv2d_1's 4×4 feature maps
    assert np.ptp(cam["map"]) > 0 and not cam["uniform"]
    other = (body["predicted"] + 1) % 10
    first = inside(client, cnn, 5, **{"class": other, "layer": "conv2d"})["saliency"]
    assert first["class"] == other and first["layer"] == "conv2d" and np.shape(first["map"]) == (6, 6)
    assert cam["layers"] == ["conv2d", "conv2d_1", "max_pooling2d", "dropout"]


def test_histograms_count_every_weight(world):
    client, _, cnn, _, tmp = world
    model = downloaded_model(client, cnn, tmp)
    r = client.get(f"/api/runs/{cnn}/histograms")
    assert r.status_code == 200
    layers = {layer["name"]: layer for layer in r.get_json()["layers"]}
    assert sorted(layers) == sorted(layer.name for layer in model.layers if layer.weights)
    for layer in model.layers:
        for weight in layer.weights:
            entry = next(w for w in layers[layer.name]["weights"] if w["name"] == weight.name)
            assert [e["epoch"] for e in entry["epochs"]] == [1, 2]
            values = np.asarray(weight)
            for epoch in entry["epochs"]:
                assert sum(epoch["counts"]) + epoch["nonfinite"] == values.size
                assert len(epoch["edges"]) == len(epoch["counts"]) + 1 == 31
            last = entry["epochs"][-1]            # the saved model is the last epoch's weights
            assert last["edges"][0] == pytest.approx(values.min(), abs=1e-6)
            assert last["edges"][-1] == pytest.approx(values.max(), abs=1e-6)


def test_learning_strip_of_a_sample_image(world):
    client, _, cnn, _, _ = world
    body = inside(client, cnn, 0)                 # the epoch sample starts at x_test[0]
    assert body["learning"]["epochs"] == [1, 2]
    np.testing.assert_allclose(body["learning"]["probabilities"][-1], body["probabilities"], atol=1e-4)
    assert inside(client, cnn, 1)["learning"] is None    # not in the sample


def test_rnn_sequence_and_gradient_times_input(world):
    client, _, _, rnn, _ = world
    body = inside(client, rnn, 2)
    seq = body["layers"][1]
    assert seq["kind"] == "sequence" and seq["output_shape"] == [None, 8, 12]
    assert png_size(client, seq["image_url"])[0] > 0
    sal = body["saliency"]
    assert sal["method"] == "gradient-x-input" and "no convolution layer" in sal["note"]
    assert np.shape(sal["map"]) == (8, 8) and np.ptp(sal["map"]) > 0
    r = client.get(f"/api/runs/{rnn}/kernels.png")
    assert r.status_code == 404 and "no 2-D convolution" in r.get_json()["error"]["message"]
    r = client.get(f"/api/runs/{rnn}/inside/2", query_string={"layer": "simple_rnn"})
    assert r.status_code == 400 and "accepted: none" in r.get_json()["error"]["message"]


def test_own_image(world):
    client, _, cnn, _, _ = world
    png = io.BytesIO()
    img = Image.new("L", (2000, 1500))
    img.paste(255, (800, 300, 1100, 1200))        # a thick "1"
    img.save(png, "JPEG")
    r = client.post(f"/api/runs/{cnn}/inside", data={"image": (io.BytesIO(png.getvalue()), "one.jpg")},
                    content_type="multipart/form-data")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["image"].startswith("own-") and body["index"] is None and body["learning"] is None
    assert png_size(client, body["layers"][0]["pages"][0])[0] > 0
    assert client.get(f"/api/runs/{cnn}/inside/{body['image']}").get_json()["predicted"] == body["predicted"]


def test_refusals(world):
    client, app, cnn, rnn, _ = world
    cases = [
        (f"/api/runs/{cnn}/inside/360", 404, "outside the test split"),
        (f"/api/runs/{cnn}/inside/abc", 404, "test split index"),
        (f"/api/runs/{cnn}/inside/own-0000000000000000", 404, "upload it again"),
        (f"/api/runs/{cnn}/inside/1?class=10", 400, "class must be a whole number from 0 to 9"),
        (f"/api/runs/{cnn}/inside/1?class=-1", 400, "class must be a whole number"),
        (f"/api/runs/{cnn}/inside/1?layer=dense", 400, "'dense' has no feature maps"),
        (f"/api/runs/{cnn}/inside/1/layers/9.png", 400, "layer must be a whole number from 0 to 6"),
        (f"/api/runs/{cnn}/inside/1/layers/1.png?page=2", 400, "page must be a whole number from 0 to 1"),
        (f"/api/runs/{cnn}/inside/1/saliency.png?class=99", 400, "class must"),
        ("/api/runs/9999/inside/1", 404, "no run 9999"),
        ("/api/runs/9999/histograms", 404, "no run 9999"),
    ]
    kd = app.extensions["kd"]
    with kd.store.session() as s:                 # a run that never trained: no saved model
        untrained = Run(name="u", owner_id=1, status="queued", dataset="digits", history={},
                        spec=get(client, cnn)["spec"], epochs_planned=1)
        s.add(untrained)
    cases += [(f"/api/runs/{untrained.id}/inside/1", 409, "no saved model yet"),
              (f"/api/runs/{untrained.id}/kernels.png", 409, "no saved model yet")]
    assert client.get(f"/api/runs/{untrained.id}/histograms").get_json() == {"layers": []}
    (kd.data_dir / "runs" / str(rnn) / "model.keras").write_bytes(b"not a zip")   # a damaged save
    cases.append((f"/api/runs/{rnn}/inside/1", 409, "could not be loaded"))
    for url, status, message in cases:
        r = client.get(url)
        assert r.status_code == status, (url, r.status_code, r.get_data(as_text=True)[:300])
        assert message in r.get_json()["error"]["message"], (url, r.get_json())
    assert client.delete(f"/api/runs/{cnn}").status_code == 204     # a deleted run
    r = client.get(f"/api/runs/{cnn}/inside/1")
    assert r.status_code == 404 and f"no run {cnn}" in r.get_json()["error"]["message"]


# A sequence run: IMDB-format reviews (tests/keras_cache.py's writer: "great" planted in positive reviews,
# "awful" in negative ones) and imdb_fasttext.py's model (Embedding, the mean over words, one sigmoid unit).
IMDB_OPTIONS = {"num_words": 300, "maxlen": 40}
IMDB_FASTTEXT = {"name": "imdb fasttext", "dataset": "imdb", "dataset_options": IMDB_OPTIONS, "model": {"layers": [
    {"type": "Embedding", "input_dim": 300, "output_dim": 16},
    {"type": "GlobalAveragePooling1D"},
    {"type": "Dense", "units": 1, "activation": "sigmoid"},
]}, "compile": {"optimizer": {"type": "Adam", "learning_rate": 0.02}, "loss": "binary_crossentropy",
                "metrics": ["accuracy"]}, "fit": {"epochs": 8, "batch_size": 32, "validation": "test"}}


@contextlib.contextmanager
def stand_in(registry, datasets):
    """Make the registry serve {id: (raw Data, description)} besides its own datasets, while the block runs."""
    read, info = registry._read, registry._info
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(registry, "_read", lambda ds_id: datasets[ds_id][0] if ds_id in datasets else read(ds_id))
        patch.setattr(registry, "_info", lambda ds_id: datasets[ds_id][1] if ds_id in datasets else info(ds_id))
        yield


def stored_run(kd, spec, model, x_test, y_test, epochs):
    """Give the id of a completed run of `spec` whose saved model and test predictions are these, where the trainer keeps them."""
    from webapp.predict import predictions as preds
    from webapp.runs import paths

    with kd.store.session() as s:
        run = Run(name=spec["name"], owner_id=1, status="completed", dataset=spec["dataset"], history={}, spec=spec,
                  epochs_planned=epochs, epochs_done=epochs)
        s.add(run)
    folder = paths.run_dir(kd.data_dir, run.id)
    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder / "model.keras")
    np.savez(folder / preds.FILE, **preds.arrays(model.predict(x_test, verbose=0), y_test, epochs))
    return run.id


@pytest.fixture(scope="module")
def imdb_run(tmp_path_factory):
    """Give (client, run id, the Data of the run's options): a sequence run trained here, its files where the trainer puts them.

    Stand-in until seqdata's imdb reader (keras_cache.read_sequences) is on this branch: the
    registry is given the raw npz arrays as that reader gives them; dataset_options, the model
    (modelspec.build), the stored predictions (predictions.arrays) and every API call are the real ones.
    """
    from tests.keras_cache import word_index, write_imdb
    from webapp.datasets.data import Data, describe
    from webapp.datasets.registry import with_options
    from webapp.modelspec import build
    from webapp.modelspec.validate import validate

    tmp = tmp_path_factory.mktemp("imdb")
    x_train, y_train, x_test, y_test = write_imdb(tmp / "datasets", n_train=300, n_test=100, vocabulary=300)
    app = create_app({"KD_DATA_DIR": str(tmp / "data"), "KD_WARM_SPARE": "0", "TESTING": True})
    kd = app.extensions["kd"]
    client = signed_in(app)   # the admin, user 1, who owns the run
    raw = Data(x_train, y_train.astype(np.int64), x_test, y_test.astype(np.int64), ["negative", "positive"], 1.0,
               kind="sequence", meta={"word_index": word_index(300), "layout": "imdb"})
    entry = {"name": "IMDB", "kind": "sequence", "input_shape": [None], "num_classes": 2, "train_size": 300,
             "class_names": ["negative", "positive"], "test_size": 100, "pixel_max": 1.0, "source": "keras",
             "options_schema": "keras_sequence", "vocabulary_size": None}
    with stand_in(kd.datasets, {"imdb": (raw, describe("imdb", with_options(entry)))}):
        data = kd.datasets.load("imdb", IMDB_OPTIONS)
        model = build.build_model(validate(IMDB_FASTTEXT, require_run=True), [40])
        model.compile(optimizer=build.init_keras().optimizers.Adam(0.02), loss="binary_crossentropy")
        model.fit(data.x_train, data.y_train, epochs=8, batch_size=32, verbose=0)
        yield client, stored_run(kd, IMDB_FASTTEXT, model, data.x_test, data.y_test, 8), data


def test_sequence_predictions_inside_view_and_try_your_own(imdb_run):
    client, run_id, data = imdb_run
    body = client.get(f"/api/runs/{run_id}/predictions", query_string={"limit": 100}).get_json()
    assert body["total"] == 100
    right = sum(item["predicted"] == item["true"] for item in body["items"])
    assert right >= 90, right                                   # the planted words are learnt
    for item in body["items"][:5]:
        assert item["image_url"] is None and item["text"] == data.text("test", item["index"])
        assert {t["name"] for t in item["top"]} == {"negative", "positive"}   # one sigmoid unit: two classes
        assert ("great" if item["true"] == 1 else "awful") in item["text"].split()
    confusion = client.get(f"/api/runs/{run_id}/confusion").get_json()
    assert confusion["labels"] == ["negative", "positive"] and confusion["total"] == 100
    assert client.get(f"/api/runs/{run_id}/predictions/sprite.png").status_code == 404
    for page in ("gallery", "inside/0"):
        assert client.get(f"/runs/{run_id}/{page}").status_code == 200
    assert "Inside the model · sample 0" in client.get(f"/runs/{run_id}/inside/0").get_data(as_text=True)

    for item in body["items"][:6]:
        view = inside(client, run_id, item["index"])
        assert view["saliency"] is None and view["text"] == item["text"]
        tokens = view["tokens"]
        assert [t["token"] for t in tokens] == data.text("test", item["index"]).split()
        planted = "great" if view["predicted"] == 1 else "awful"
        assert max(tokens, key=lambda t: t["attribution"])["token"] == planted, tokens
        kinds = {layer["type"]: layer["kind"] for layer in view["layers"]}
        assert kinds["Embedding"] == "sequence" and kinds["Dense"] == "probabilities"
    embedded = next(layer for layer in view["layers"] if layer["type"] == "Embedding")
    assert png_size(client, embedded["image_url"])[0] > 0          # time steps × units, drawn

    answer = client.post(f"/api/runs/{run_id}/predict", json={"text": "The w40 w41, GREAT! w42 w43 w44"}).get_json()
    assert answer["name"] == "positive" and answer["text"] == "[start] the w40 w41 great w42 w43 w44", answer
    assert max(answer["tokens"], key=lambda t: t["attribution"])["token"] == "great"
    assert client.post(f"/api/runs/{run_id}/predict", json={"text": "w50 awful w51 w52"}).get_json()["name"] == "negative"
    for payload, words in (({"text": ""}, "text: send a sentence"), ({"series": [1, 2]}, "text: send a sentence"),
                           ({"text": "x" * 20_001}, "KD_MAX_TEXT_CHARS"), ([1, 2], "text: send a JSON object")):
        r = client.post(f"/api/runs/{run_id}/predict", json=payload)
        assert r.status_code == 400 and words in r.get_json()["error"]["message"], (payload, r.get_json())
    for path in ("inside", "predict"):   # an image sent to a text run
        r = client.post(f"/api/runs/{run_id}/{path}", data={"image": (io.BytesIO(b"x"), "x.png")})
        assert r.status_code == 400 and "send JSON" in r.get_json()["error"]["message"], r.get_json()


def test_series_predictions_attribution_over_time_and_a_pasted_series(tmp_path):
    from webapp.datasets.data import Data, describe
    from webapp.modelspec import build

    # Class 1 series have a bump at step 9 of 24; the model (a Conv1D) is trained here, stand-in for a CSV upload.
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 240)
    x = rng.normal(0, 0.3, (240, 24, 1)).astype(np.float32)
    x[y == 1, 8:11, 0] += 3.0
    raw = Data(x[:160], y[:160], x[160:], y[160:], ["flat", "bump"], 1.0, kind="series")
    entry = describe("bumps", {"name": "bumps", "kind": "series", "input_shape": [24, 1], "num_classes": 2,
                               "class_names": ["flat", "bump"], "train_size": 160, "test_size": 80, "pixel_max": 1.0,
                               "source": "upload"})
    series_spec = {"name": "bumps conv", "dataset": "bumps", "model": {"layers": [
        {"type": "Conv1D", "filters": 4, "kernel_size": 3, "activation": "relu"},
        {"type": "GlobalMaxPooling1D"}, {"type": "Dense", "units": 2, "activation": "softmax"}]},
        "compile": {"optimizer": {"type": "Adam", "learning_rate": 0.05}, "loss": "sparse_categorical_crossentropy",
                    "metrics": ["accuracy"]}, "fit": {"epochs": 10, "batch_size": 32, "validation": "test"}}
    app = create_app({"KD_DATA_DIR": str(tmp_path / "data"), "KD_WARM_SPARE": "0", "TESTING": True})
    kd, client = app.extensions["kd"], signed_in(app)
    with stand_in(kd.datasets, {"bumps": (raw, entry)}):
        from webapp.modelspec.validate import validate

        model = build.build_model(validate(series_spec, require_run=True), [24, 1])
        model.compile(optimizer=build.init_keras().optimizers.Adam(0.05), loss="sparse_categorical_crossentropy")
        model.fit(raw.x_train, raw.y_train, epochs=10, batch_size=32, verbose=0)
        run_id = stored_run(kd, series_spec, model, raw.x_test, raw.y_test, 10)
        item = client.get(f"/api/runs/{run_id}/predictions", query_string={"true": 1, "limit": 1}).get_json()["items"][0]
        assert item["image_url"] is None and np.allclose(item["series"], raw.x_test[item["index"], :, 0], atol=1e-6)
        view = inside(client, run_id, item["index"])
        assert view["tokens"] is None and len(view["attribution"]) == len(view["series"]) == 24
        assert view["predicted"] == 1 and 8 <= int(np.argmax(view["attribution"])) <= 10   # the bump
        pasted = [0.0] * 8 + [3.0] * 3 + [0.0] * 13   # a bump like the training data's
        answer = client.post(f"/api/runs/{run_id}/predict", json={"series": pasted}).get_json()
        assert answer["name"] == "bump" and len(answer["attribution"]) == 24
        for payload, words in (({"series": [1.0] * 23}, "exactly 24 values; got 23"), ({"text": "hi"}, "series: send a list"),
                               ({"series": [1.0] * 23 + ["x"]}, "value 23")):
            r = client.post(f"/api/runs/{run_id}/predict", json=payload)
            assert r.status_code == 400 and words in r.get_json()["error"]["message"], (payload, r.get_json())
        (kd.data_dir / "runs" / str(run_id) / "model.keras").write_bytes(b"not a zip")   # a damaged save
        r = client.post(f"/api/runs/{run_id}/predict", json={"series": pasted})
        assert r.status_code == 409 and "could not be loaded" in r.get_json()["error"]["message"]
