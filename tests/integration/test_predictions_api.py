"""The predictions API against predictions computed independently from the downloaded model.keras.

A run trains for real on the digits; the test downloads its model.keras, loads it with
keras.saving.load_model and predicts x_test (split and scaled here as the trainer does, /16.0),
then checks every filter, sort and page of the API against that.
"""

import base64
import io
import itertools
import zipfile

import numpy as np
import pytest
from PIL import Image
from sklearn.datasets import load_digits
from sklearn.metrics import precision_recall_fscore_support
from sklearn.model_selection import train_test_split

from tests.conftest import signed_in
from tests.integration.runs_helpers import get, start, wait_for
from tests.live import wait_until
from tests.specs import MLP, spec
from webapp import create_app
from webapp.db.store import Run
from webapp.runs import paths
from webapp.modelspec.build import init_keras

pytestmark = pytest.mark.keras
LONG = {"epochs": 50, "batch_size": 8, "validation": "test"}


def digits_test_split():
    """Give (x_test as stored 0..16 (N, 8, 8), y_test), split as the dataset does: 80/20, stratified, seed 0."""
    bunch = load_digits()
    _, x_test, _, y_test = train_test_split(bunch.images, bunch.target, test_size=0.2, random_state=0,
                                            stratify=bunch.target)
    return x_test, y_test


def downloaded_model(client, run_id, folder):
    """Give the run's model.keras as a user gets it: downloaded, then keras.saving.load_model."""
    r = client.get(f"/api/runs/{run_id}/artifacts/model.keras")
    assert r.status_code == 200
    path = folder / f"run-{run_id}.keras"
    path.write_bytes(r.data)
    return init_keras().saving.load_model(path)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Give (client, run_id, probabilities of the downloaded model on x_test, x_test, y_test)."""
    tmp = tmp_path_factory.mktemp("predictions")
    client = signed_in(create_app({"KD_DATA_DIR": str(tmp / "data"), "KD_WARM_SPARE": "0", "TESTING": True}))
    run_id = start(client, spec(MLP, fit={"epochs": 2, "batch_size": 64}))
    run = wait_for(lambda: get(client, run_id))
    assert run["status"] == "completed", run["error"]
    x_test, y_test = digits_test_split()
    model = downloaded_model(client, run_id, tmp)
    probs = model.predict(x_test[..., None].astype("float32") / 16.0, verbose=0)
    return client, run_id, probs, x_test, y_test


def fetch_all(client, run_id, params, limit):
    """Give (total, every item) of a query, fetched page by page with `limit` per page."""
    items, offset = [], 0
    while True:
        r = client.get(f"/api/runs/{run_id}/predictions", query_string={**params, "offset": offset, "limit": limit})
        assert r.status_code == 200, r.get_json()
        body = r.get_json()
        assert len(body["items"]) <= limit
        items += body["items"]
        offset += limit
        if offset >= body["total"]:
            assert len(items) == body["total"]
            return body["total"], items


def expected(probs, y, filt, true, pred, sort, order):
    """Give the indexes a query should answer, from the downloaded model's own predictions."""
    predicted, confidence = np.argmax(probs, -1), probs.max(axis=1)
    keep = [i for i in range(len(y))
            if (filt == "all" or (predicted[i] == y[i]) == (filt == "right"))
            and (true is None or y[i] == true) and (pred is None or predicted[i] == pred)]
    if sort == "confidence":
        return sorted(keep, key=lambda i: (-confidence[i] if order == "desc" else confidence[i], i))
    return sorted(keep, reverse=order == "desc")


def test_every_filter_sort_and_page_matches_the_downloaded_model(trained):
    client, run_id, probs, _, y = trained
    predicted = np.argmax(probs, -1)
    wrong = [(int(t), int(p)) for t, p in zip(y, predicted) if t != p]
    assert wrong, "two epochs of this MLP leave some test images wrong"
    t, p = max(set(wrong), key=wrong.count)   # the most common confusion: every filter finds something
    sorts = [({}, "index", "asc"), ({"sort": "index", "order": "desc"}, "index", "desc"),
             ({"sort": "confidence"}, "confidence", "desc"), ({"sort": "confidence", "order": "asc"}, "confidence", "asc")]
    for filt, true, pred, (extra, sort, order) in itertools.product(("all", "wrong", "right"), (None, t),
                                                                      (None, p, t), sorts):
        params = {"filter": filt, **extra, **({"true": true} if true is not None else {}),
                  **({"pred": pred} if pred is not None else {})}
        total, items = fetch_all(client, run_id, params, limit=97)
        want = expected(probs, y, filt, true, pred, sort, order)
        assert [i["index"] for i in items] == want, params
        assert total == len(want)
    total, items = fetch_all(client, run_id, {}, limit=100)
    assert total == len(y) == 360
    for item in items:
        i = item["index"]
        assert item["true"] == y[i] and item["predicted"] == predicted[i]
        assert item["confidence"] == pytest.approx(float(probs[i].max()), abs=1e-6)
        top = np.argsort(-probs[i], kind="stable")[:5]
        assert [c["class"] for c in item["top"]] == top.tolist()
        assert [c["p"] for c in item["top"]] == pytest.approx(probs[i][top].tolist(), abs=1e-6)
        assert [c["name"] for c in item["top"]] == [str(c) for c in top]
        assert item["image_url"] == f"/api/datasets/digits/images/test/{i}.png"


def test_offset_10_limit_10_is_x_test_10_to_20(trained):
    client, run_id, _, x_test, _ = trained
    body = client.get(f"/api/runs/{run_id}/predictions?offset=10&limit=10").get_json()
    assert [i["index"] for i in body["items"]] == list(range(10, 20))
    model = init_keras().saving.load_model(paths.artifact(client.application.extensions["kd"].data_dir, run_id, paths.MODEL))
    direct = np.argmax(model.predict(x_test[10:20, :, :, None] / 16.0, verbose=0), -1)
    assert [i["predicted"] for i in body["items"]] == direct.tolist()
    assert body["epoch"] == 2


def test_counts_say_how_many_are_right_and_wrong(trained):
    client, run_id, probs, _, y = trained
    right = int((np.argmax(probs, -1) == y).sum())
    body = client.get(f"/api/runs/{run_id}/predictions?filter=wrong&limit=1").get_json()
    assert body["counts"] == {"all": 360, "right": right, "wrong": 360 - right} and body["total"] == 360 - right


def test_confusion_matrix_and_class_scores(trained):
    client, run_id, probs, _, y = trained
    predicted = np.argmax(probs, -1)
    body = client.get(f"/api/runs/{run_id}/confusion").get_json()
    assert body["labels"] == [str(k) for k in range(10)]
    matrix = np.zeros((10, 10), dtype=int)
    for t, p in zip(y, predicted):
        matrix[t, p] += 1
    assert body["matrix"] == matrix.tolist()
    assert body["accuracy"] == pytest.approx(np.mean(predicted == y))
    precision, recall, f1, support = precision_recall_fscore_support(y, predicted, labels=range(10), zero_division=np.nan)
    for k, row in enumerate(body["classes"]):
        assert row["class"] == k and row["support"] == support[k]
        assert row["recall"] == pytest.approx(recall[k])
        assert (row["precision"] is None) if np.isnan(precision[k]) else row["precision"] == pytest.approx(precision[k])


def test_a_confusion_cell_is_a_filter(trained):
    client, run_id, _, _, _ = trained
    matrix = client.get(f"/api/runs/{run_id}/confusion").get_json()["matrix"]
    for t, p in [(3, 3), (8, 1), (9, 4)]:
        body = client.get(f"/api/runs/{run_id}/predictions?true={t}&pred={p}&limit=1000").get_json()
        assert body["total"] == matrix[t][p]
        assert all(i["true"] == t and i["predicted"] == p for i in body["items"])


def test_thumbnails_are_pngs_of_the_right_size_and_pixels(trained):
    client, run_id, _, x_test, _ = trained
    items = client.get(f"/api/runs/{run_id}/predictions?filter=wrong&limit=5").get_json()["items"]
    for item in items:
        r = client.get(item["image_url"] + "?scale=9")
        assert r.status_code == 200 and r.mimetype == "image/png" and r.data[:8] == b"\x89PNG\r\n\x1a\n"
        img = Image.open(io.BytesIO(r.data))
        assert img.format == "PNG" and img.size == (72, 72) and img.mode == "L"
        original = (x_test[item["index"]] / 16.0 * 255 + 0.5).astype(np.uint8)
        assert np.array_equal(np.asarray(img), np.kron(original, np.ones((9, 9), dtype=np.uint8)))


def decoded(client, url):
    """Give a PNG the API answers at `url`, decoded by Pillow to an array."""
    r = client.get(url)
    assert r.status_code == 200 and r.mimetype == "image/png", (url, r.status_code, r.data[:200])
    return np.asarray(Image.open(io.BytesIO(r.data)))


@pytest.mark.parametrize("path, query", [("predictions", "limit=100"), ("predictions/epoch", "limit=100"),
                                         ("predictions", "filter=wrong&sort=confidence&limit=100"),
                                         ("predictions", "true=3&offset=10&limit=7")])
def test_a_sprite_tile_is_the_single_thumbnail_pixel_for_pixel(trained, path, query):
    client, run_id, _, _, _ = trained
    body = client.get(f"/api/runs/{run_id}/{path}?{query}").get_json()
    assert body["items"], body
    sprite = decoded(client, f"/api/runs/{run_id}/{path}/sprite.png?{query}&scale=9")
    columns = min(10, len(body["items"]))
    assert sprite.shape == (72 * -(-len(body["items"]) // columns), 72 * columns)
    for k, item in enumerate(body["items"]):
        top, left = 72 * (k // columns), 72 * (k % columns)
        single = decoded(client, f"{item['image_url']}?scale=9")
        assert np.array_equal(sprite[top:top + 72, left:left + 72], single), (query, k, item["index"])
    unused = sprite[72 * (len(body["items"]) // columns):, 72 * (len(body["items"]) % columns):]
    assert not unused.any()      # the last row's empty cells are black


def test_a_sprite_has_a_strong_etag_and_a_304(trained):
    client, run_id, _, _, _ = trained
    url = f"/api/runs/{run_id}/predictions/sprite.png?limit=5"
    first = client.get(url)
    tag = first.headers["ETag"]
    assert first.status_code == 200 and tag.startswith('"') and not tag.startswith("W/")
    assert first.headers["Cache-Control"] == "private, no-cache"    # no version: ask again each time
    again = client.get(url, headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == tag
    # The same pixels are the same ETag however they were asked for; other pixels another one.
    same = client.get(f"/api/runs/{run_id}/predictions/sprite.png?indexes=0,1,2,3,4&limit=5")
    assert same.headers["ETag"] == tag and same.data == first.data
    assert client.get(url + "&scale=4").headers["ETag"] != tag
    assert client.get(url + "&offset=5").headers["ETag"] != tag
    version = client.get(f"/api/runs/{run_id}/predictions?limit=5").get_json()["version"]
    pinned = client.get(f"{url}&v={version}")
    assert pinned.headers["Cache-Control"] == "private, max-age=31536000, immutable" and pinned.data == first.data


@pytest.mark.parametrize("query, field", [("limit=201", "limit"), ("limit=200&scale=32", "scale"),
                                          ("scale=33", "scale"), ("scale=0", "scale"), ("filter=odd", "filter")])
def test_a_too_large_or_bad_sprite_request_is_400_naming_the_field(trained, query, field):
    client, run_id, _, _, _ = trained
    r = client.get(f"/api/runs/{run_id}/predictions/sprite.png?{query}")
    assert r.status_code == 400 and r.get_json()["error"]["message"].startswith(f"{field}"), r.get_json()


def test_the_gallery_page_gets_its_data_and_plotly(trained):
    client, run_id, _, _, _ = trained
    r = client.get(f"/runs/{run_id}/gallery")
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert html.index('src="/vendor/plotly.min.js"') < html.index('src="/static/js/pages/gallery.js"')
    assert '"thumb_scale": 9' in html and '"digit_like": true' in html and "<script>" not in html
    assert client.get("/runs/999/gallery").status_code == 404


def test_the_epoch_sample_matches_the_final_predictions_and_marks_changes(trained):
    client, run_id, probs, _, y = trained
    body = client.get(f"/api/runs/{run_id}/predictions/epoch?limit=1000").get_json()
    assert body["epoch"] == 2 and body["total"] == 100
    spread = np.unique(np.linspace(0, 359, 100).round().astype(int)).tolist()
    assert [i["index"] for i in body["items"]] == spread
    predicted = np.argmax(probs, -1)
    for item in body["items"]:
        assert item["predicted"] == predicted[item["index"]] and item["true"] == y[item["index"]]
        assert item["previous"] is not None                       # epoch 1 was there to compare with
        assert item["changed"] == (item["previous"] != item["predicted"])


def decode_seen(answer):
    """Give the image the model saw, from predict's input_image data URL: (8, 8) digit levels 0..16 scaled to [0, 1]."""
    png = base64.b64decode(answer["input_image"].split(",", 1)[1])
    img = np.asarray(Image.open(io.BytesIO(png)), dtype=np.float32)
    scale = img.shape[0] // 8
    return (np.round(img[::scale, ::scale] / 255.0 * 16) / 16).astype(np.float32)


def test_predict_an_uploaded_image_as_the_model_does(trained, tmp_path):
    client, run_id, _, x_test, _ = trained
    # A test digit as a user might photograph it: dark ink on white paper, 80×80 pixels.
    paper = Image.fromarray((255 - x_test[0] / 16.0 * 255).astype(np.uint8)).resize((80, 80), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    paper.save(buffer, format="PNG")
    r = client.post(f"/api/runs/{run_id}/predict", data={"image": (io.BytesIO(buffer.getvalue()), "digit.png")})
    assert r.status_code == 200, r.get_json()
    answer = r.get_json()
    seen = decode_seen(answer)
    assert seen.mean() < 0.5                      # made light-on-dark like the digits
    model = downloaded_model(client, run_id, tmp_path)
    out = model.predict(seen[None, :, :, None], verbose=0)[0]
    assert answer["predicted"] == int(np.argmax(out)) == answer["top"][0]["class"]
    assert [t["class"] for t in answer["top"]] == np.argsort(-out, kind="stable")[:5].tolist()
    assert answer["top"][0]["p"] == pytest.approx(float(out.max()), abs=1e-5) == answer["confidence"]


def png_bytes(img):
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


@pytest.mark.parametrize("data, words", [
    (None, "multipart form field `image`"),
    (b"hello, I am text", "not an image"),
    (png_bytes(Image.effect_noise((64, 64), 40))[:300], "damaged or truncated"),
    (b"\x89PNG\r\n\x1a\n" + bytes(11 * 2**20), "larger than 10 MB"),
    (png_bytes(Image.new("1", (20000, 20000))), "too many pixels"),
])
def test_bad_uploads_get_a_clear_400(trained, data, words):
    client, run_id, _, _, _ = trained
    form = {} if data is None else {"image": (io.BytesIO(data), "upload.png")}
    r = client.post(f"/api/runs/{run_id}/predict", data=form, content_type="multipart/form-data")
    assert r.status_code == 400
    assert words in r.get_json()["error"]["message"]


@pytest.mark.parametrize("query, field", [("filter=odd", "filter"), ("true=10", "true"), ("pred=x", "pred"),
                                          ("limit=0", "limit"), ("offset=-5", "offset"), ("sort=name", "sort")])
def test_bad_query_parameters_are_400_naming_them(trained, query, field):
    client, run_id, _, _, _ = trained
    r = client.get(f"/api/runs/{run_id}/predictions?{query}")
    assert r.status_code == 400 and r.get_json()["error"]["message"].startswith(f"{field} ")


def test_unknown_runs_are_404(trained):
    client = trained[0]
    for path in ("/api/runs/999/predictions", "/api/runs/999/confusion", "/api/runs/999/predictions/epoch"):
        assert client.get(path).status_code == 404
    assert client.post("/api/runs/999/predict", data={"image": (io.BytesIO(b"x"), "x.png")}).status_code == 404


def test_stopped_runs_get_predictions_and_a_continue_rewrites_them(client, services, tmp_path):
    run_id = start(client, spec(MLP, fit=LONG))
    wait_for(lambda: get(client, run_id), ("running",), until=lambda r: r["epochs_done"] >= 1)
    r = client.get(f"/api/runs/{run_id}/predictions")
    assert r.status_code == 409 and "when it completes or is stopped" in r.get_json()["error"]["message"]
    sample = client.get(f"/api/runs/{run_id}/predictions/epoch").get_json()
    assert sample["epoch"] >= 1 and sample["total"] == 100
    client.post(f"/api/runs/{run_id}/stop")
    run = wait_for(lambda: get(client, run_id))
    assert run["status"] == "stopped"
    x_test, y = digits_test_split()
    x = x_test[..., None] / 16.0
    versions = []
    for round_ in (1, 2):
        body = client.get(f"/api/runs/{run_id}/predictions?limit=1000").get_json()
        assert body["epoch"] == run["epochs_done"]
        versions.append(body["version"])   # a sprite URL pinned to the first write never shows the second
        model = downloaded_model(client, run_id, tmp_path)
        assert [i["predicted"] for i in body["items"]] == np.argmax(model.predict(x, verbose=0), -1).tolist()
        if round_ == 1:
            done = run["epochs_done"]
            assert client.post(f"/api/runs/{run_id}/continue", json={"epochs": 1}).status_code == 202
            run = wait_for(lambda: get(client, run_id), until=lambda r: r["epochs_done"] == done + 1)
            assert run["status"] == "completed"
    assert versions[0] != versions[1]


def test_a_binary_model_predicts_one_minus_p_and_p(client, tmp_path):
    bunch = load_digits()
    keep = bunch.target < 2
    x, y = bunch.images[keep].astype(np.uint8), bunch.target[keep]
    npz = io.BytesIO()
    np.savez(npz, x_train=x[:300], y_train=y[:300], x_test=x[300:], y_test=y[300:], class_names=np.array(["zero", "one"]))
    r = client.post("/api/datasets", data={"file": (io.BytesIO(npz.getvalue()), "zero-one.npz"), "name": "zero or one"})
    assert r.status_code == 201, r.get_json()
    ds_id, pixel_max = r.get_json()["dataset"]["id"], r.get_json()["dataset"]["pixel_max"]   # uint8: 255
    binary = spec(MLP, dataset=ds_id, model={"layers": [{"type": "Flatten"}, {"type": "Dense", "units": 1, "activation": "sigmoid"}]},
                  compile={"optimizer": "adam", "loss": "binary_crossentropy", "metrics": ["accuracy"]}, fit={"epochs": 1})
    run_id = start(client, binary)
    assert wait_for(lambda: get(client, run_id))["status"] == "completed"
    model = downloaded_model(client, run_id, tmp_path)
    x_test = x[300:][..., None].astype("float32")
    p = model.predict(x_test / pixel_max, verbose=0)[:, 0]
    body = client.get(f"/api/runs/{run_id}/predictions?limit=1000").get_json()
    assert body["total"] == len(p)
    for item in body["items"]:
        q = p[item["index"]]
        assert item["predicted"] == int(q > 0.5)
        assert item["confidence"] == pytest.approx(max(q, 1 - q), abs=1e-6)
        assert [t["class"] for t in item["top"]] == [int(q > 0.5), int(q <= 0.5)]
        assert [t["name"] for t in item["top"]] == [["zero", "one"][t["class"]] for t in item["top"]]
    assert client.get(f"/api/runs/{run_id}/confusion").get_json()["labels"] == ["zero", "one"]


def test_batch_predict_answers_each_instance_in_order(trained):
    client, run_id, probs, x_test, _ = trained
    # Pixel arrays in the dataset's own values (0..16), with and without the one channel.
    instances = [x_test[0].tolist(), x_test[1][..., None].tolist(), x_test[2].tolist()]
    r = client.post(f"/api/runs/{run_id}/predict", json={"instances": instances})
    assert r.status_code == 200, r.get_json()
    answers = r.get_json()["predictions"]
    assert [a["predicted"] for a in answers] == np.argmax(probs[:3], -1).tolist()
    assert [a["confidence"] for a in answers] == pytest.approx(probs[:3].max(axis=1).tolist(), abs=1e-5)
    # Several image parts: each answer is the one predict-one gives that image alone.
    images = [png_bytes(Image.fromarray((x_test[i] / 16.0 * 255).astype(np.uint8))) for i in (3, 4)]
    form = {"image": [(io.BytesIO(data), f"{i}.png") for i, data in enumerate(images)]}
    r = client.post(f"/api/runs/{run_id}/predict", data=form, content_type="multipart/form-data")
    assert r.status_code == 200, r.get_json()
    singles = [client.post(f"/api/runs/{run_id}/predict", data={"image": (io.BytesIO(data), "one.png")}).get_json()
               for data in images]
    assert [a["predicted"] for a in r.get_json()["predictions"]] == [s["predicted"] for s in singles]
    assert [a["top"] for a in r.get_json()["predictions"]] == [s["top"] for s in singles]


@pytest.mark.parametrize("instances, field", [
    ([[[0] * 8] * 8] * 65, "instances"),                      # more than KD_MAX_PREDICT_BATCH (64)
    ([[[0] * 8] * 8, [[0] * 7] * 8], "instances[1]"),          # a wrong shape
    ([[[0] * 8] * 8, [[0] * 8] * 7 + [[0] * 8 + [1]]], "instances[1]"),   # ragged rows
    ([[[17] * 8] * 8], "instances[0]"),                        # past the dataset's pixel_max (16)
    ("pixels", "instances"), ([], "instances"), (None, "instances")])
def test_a_batch_it_cannot_take_is_422_naming_the_instance(trained, instances, field):
    client, run_id = trained[:2]
    r = client.post(f"/api/runs/{run_id}/predict", json={"instances": instances})
    assert r.status_code == 422, r.get_json()
    error = r.get_json()["errors"][0]
    assert error["field"] == field and error["message"].startswith(field)


def test_an_export_is_built_verified_in_its_runtime_and_downloaded(trained, tmp_path):
    from ai_edge_litert.interpreter import Interpreter

    client, run_id, probs, x_test, y_test = trained
    r = client.post(f"/api/runs/{run_id}/exports", json={"format": "litert", "quantization": "int8"})
    assert r.status_code == 202, r.get_json()
    export = r.get_json()["export"]
    assert (export["state"], export["format"], export["quantization"]) == ("building", "litert", "int8")
    again = client.post(f"/api/runs/{run_id}/exports", json={"format": "litert", "quantization": "int8"})
    assert again.get_json()["export"]["id"] == export["id"]   # the same request answers the export being built
    exports = client.application.extensions["kd"].exports
    exports.max_building = 1   # KD_MAX_EXPORTS_BUILDING=1: while this one builds, another is refused
    try:
        refused = client.post(f"/api/runs/{run_id}/exports", json={"format": "onnx"})
    finally:
        exports.max_building = 2
    assert refused.status_code == 429 and "KD_MAX_EXPORTS_BUILDING" in refused.get_json()["error"]["message"]

    def ended():
        found = client.get(f"/api/runs/{run_id}/exports").get_json()["exports"]
        return found if found[0]["state"] != "building" else None

    found = wait_until(ended, 180, "the export never ended")
    assert len(found) == 1 and found[0]["state"] == "ready", found[0]["error"]
    assert found[0]["agreement"] >= 0.97 and found[0]["latency_ms"] > 0 and found[0]["keras_latency_ms"] > 0
    r = client.get(f"/api/runs/{run_id}/exports/{export['id']}/download")
    assert r.status_code == 200 and r.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(r.data)) as archive:
        assert archive.read("labels.txt").decode().split() == [str(k) for k in range(10)]
        (tmp_path / "model.tflite").write_bytes(archive.read("model.tflite"))
    assert found[0]["size_bytes"] == (tmp_path / "model.tflite").stat().st_size
    interpreter = Interpreter(model_path=str(tmp_path / "model.tflite"))
    given = interpreter.get_input_details()[0]
    x = (x_test[..., None] / 16.0).astype(np.float32)
    interpreter.resize_tensor_input(given["index"], x.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(given["index"], x)
    interpreter.invoke()
    classes = interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).argmax(axis=1)
    agreement = float((classes == probs.argmax(axis=1)).mean())
    assert agreement >= 0.97 and found[0]["agreement"] == pytest.approx(agreement, abs=1e-6)
    assert found[0]["accuracy"] == pytest.approx(float((classes == y_test).mean()), abs=1e-6)



def test_an_export_past_KD_MAX_EXPORT_S_is_killed_and_fails_leaving_no_file(trained):
    client, run_id = trained[:2]
    exports = client.application.extensions["kd"].exports
    exports.max_s = 1   # KD_MAX_EXPORT_S=1: the builder is still importing TensorFlow then
    try:
        export = client.post(f"/api/runs/{run_id}/exports", json={"format": "tf_saved_model"}).get_json()["export"]

        def ended():
            found = {e["id"]: e for e in client.get(f"/api/runs/{run_id}/exports").get_json()["exports"]}
            return found[export["id"]] if found[export["id"]]["state"] != "building" else None

        found = wait_until(ended, 60, "the export never ended")
    finally:
        exports.max_s = 600
    assert found["state"] == "failed" and "KD_MAX_EXPORT_S" in found["error"]
    folder = paths.run_dir(client.application.config["KD_DATA_DIR"], run_id) / "exports"
    assert not [p for p in folder.iterdir() if p.name.startswith(f"{export['id']}.zip") or ".partial" in p.name]


@pytest.mark.parametrize("body, status, field", [
    ({"format": "tflite"}, 422, "format"), ({"format": "onnx", "quantization": "int8"}, 422, "quantization"),
    ({"format": "litert", "quantization": "int4"}, 422, "quantization")])
def test_an_export_it_cannot_take_is_4xx_naming_the_field(trained, body, status, field):
    client, run_id = trained[:2]
    r = client.post(f"/api/runs/{run_id}/exports", json=body)
    assert r.status_code == status and r.get_json()["errors"][0]["field"] == field


def test_an_unfinished_run_cannot_be_exported(trained):
    client = trained[0]
    with client.application.extensions["kd"].store.session() as s:
        run = Run(name="training", owner_id=None, status="running", dataset="digits", history={}, spec=MLP)
        s.add(run)
    r = client.post(f"/api/runs/{run.id}/exports", json={"format": "onnx"})
    assert r.status_code == 409 and "once it has completed" in r.get_json()["error"]["message"]
    assert client.post("/api/runs/999/exports", json={"format": "onnx"}).status_code == 404
    assert client.get(f"/api/runs/{run.id}/exports/1/download").status_code == 404
    bicubic = {**MLP, "model": {"layers": [{"type": "Resizing", "height": 12, "width": 12, "interpolation": "bicubic"},
                                           *MLP["model"]["layers"]]}}
    with client.application.extensions["kd"].store.session() as s:
        done = Run(name="bicubic", owner_id=None, status="completed", dataset="digits", history={}, spec=bicubic)
        s.add(done)
    r = client.post(f"/api/runs/{done.id}/exports", json={"format": "litert", "quantization": "int8"})
    assert r.status_code == 422 and r.get_json()["errors"][0]["layer"] == 0   # known up front: no worker spent
