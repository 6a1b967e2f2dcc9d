"""Datasets over HTTP: the list, uploads (201 or 400 with a message), PNG images, the pages and the CLI."""

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import signed_in

from tests.keras_cache import write_fashion_mnist, write_mnist
from webapp import create_app
from webapp.db.store import Run

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = {"id", "name", "input_shape", "num_classes", "class_names", "train_size", "test_size", "available",
            "source"}


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    """Give an empty Keras cache, so no test sees the machine's own ~/.keras."""
    home = tmp_path / "keras"
    (home / "datasets").mkdir(parents=True)
    monkeypatch.setenv("KERAS_HOME", str(home))
    return home / "datasets"


def npz_file(**arrays):
    out = io.BytesIO()
    np.savez(out, **arrays)
    out.seek(0)
    return out


def post(client, name="tiny", filename="tiny.npz", **arrays):
    """Upload arrays as a multipart form, like the page's form does."""
    data = {"file": (npz_file(**arrays), filename)} if arrays else {}
    if name is not None:
        data["name"] = name
    return client.post("/api/datasets", data=data, content_type="multipart/form-data")


def tiny(x=None):
    """Give upload arrays: x (default four 3×2 uint8 images) as the training split, its first two as the test split."""
    x = np.arange(4 * 3 * 2, dtype=np.uint8).reshape(4, 3, 2) * 10 if x is None else x
    return {"x_train": x, "y_train": np.arange(len(x)) % 2, "x_test": x[:2], "y_test": np.array([1, 0])}


def png(response):
    assert response.status_code == 200 and response.mimetype == "image/png", response.get_data(as_text=True)
    return Image.open(io.BytesIO(response.data))


def test_list_follows_the_contract(client, cache):
    write_mnist(cache)
    datasets = {d["id"]: d for d in client.get("/api/datasets").get_json()["datasets"]}
    assert all(CONTRACT <= set(d) for d in datasets.values())
    assert datasets["digits"]["available"] and datasets["digits"]["input_shape"] == [8, 8, 1]
    assert datasets["mnist"]["available"] and datasets["mnist"]["source"] == "keras"
    cifar = datasets["cifar10"]
    assert cifar["available"] is False and str(cache / "cifar-10-batches-py-target") in cifar["message"]


def test_upload_then_list_and_images(client):
    r = post(client, name="Tiny <shapes>", **tiny())
    assert r.status_code == 201, r.get_json()
    d = r.get_json()["dataset"]
    assert CONTRACT <= set(d) and d["source"] == "upload" and d["available"] is True
    assert (d["name"], d["input_shape"], d["num_classes"], d["train_size"], d["test_size"]) == \
           ("Tiny <shapes>", [3, 2, 1], 2, 4, 2)
    assert r.headers["Location"].endswith(f"/api/datasets/{d['id']}")
    assert d["id"] in [x["id"] for x in client.get("/api/datasets").get_json()["datasets"]]

    r = client.get(f"/api/datasets/{d['id']}/images/train/1.png")
    img = png(r)
    assert (img.mode, img.size) == ("L", (2, 3))
    assert np.array_equal(np.asarray(img), tiny()["x_train"][1])
    assert r.headers["Cache-Control"] == "public, max-age=86400"
    big = png(client.get(f"/api/datasets/{d['id']}/images/test/1.png?scale=4"))
    assert big.size == (8, 12) and np.array_equal(np.asarray(big)[::4, ::4], tiny()["x_train"][1])
    assert np.asarray(big)[5, 6] == tiny()["x_train"][1][1, 1]   # nearest neighbours: 4×4 blocks


def test_float_rgb_and_rgba_images_are_scaled_to_0_255(client):
    rgb = np.zeros((2, 1, 2, 3), np.float32)
    rgb[0, 0, 0] = [1.0, 0.5, 0.0]
    d = post(client, **tiny(rgb))
    assert d.status_code == 201, d.get_json()
    img = png(client.get(f"/api/datasets/{d.get_json()['dataset']['id']}/images/train/0.png"))
    assert img.mode == "RGB" and img.getpixel((0, 0)) == (255, 128, 0)
    rgba = np.full((2, 1, 1, 4), 200, np.uint8)
    img = png(client.get(f"/api/datasets/{post(client, **tiny(rgba)).get_json()['dataset']['id']}/images/test/1.png"))
    assert img.mode == "RGBA" and img.getpixel((0, 0)) == (200, 200, 200, 200)


def test_digits_pixels_16_become_255(client, services):
    data = services.datasets.load("digits")
    index = int(np.argmax(data.x_train.reshape(len(data.x_train), -1).max(axis=1) == 16))
    img = png(client.get(f"/api/datasets/digits/images/train/{index}.png?scale=8"))
    assert img.size == (64, 64) and np.asarray(img).max() == 255
    assert np.array_equal(np.asarray(img)[::8, ::8], np.floor(data.x_train[index, ..., 0] / 16 * 255 + 0.5))


def test_keras_dataset_from_the_cache_serves_images(client, cache):
    x_train, *_ = write_fashion_mnist(cache)
    img = png(client.get("/api/datasets/fashion_mnist/images/train/3.png"))
    assert np.array_equal(np.asarray(img), x_train[3])


@pytest.mark.parametrize("arrays, filename, message", [
    (None, "x.npz", "file: choose a file"),
    ({"raw": b"{}"}, "table.json", "is not one of an .npz"),
    ({"raw": b"PK but not really"}, "x.npz", "not an .npz archive"),
    ({"x_train": np.zeros((2, 2, 2)), "y_train": np.array([0, 1]), "x_test": np.zeros((1, 2, 2)),
      "y_test": np.array(["a"], dtype=object)}, "x.npz", "y_test holds Python objects (dtype=object)"),
    ({**tiny(), "y_test": np.array([1, 7]), "class_names": np.array(["a", "b"])}, "x.npz",
     "y_test has the label 7 but class_names names 2 classes"),
])
def test_bad_uploads_answer_400_with_what_is_wrong(client, arrays, filename, message):
    if arrays and "raw" in arrays:
        r = client.post("/api/datasets", data={"name": "x", "file": (io.BytesIO(arrays["raw"]), filename)},
                        content_type="multipart/form-data")
    else:
        r = post(client, name="x", filename=filename, **(arrays or {}))
    assert r.status_code == 400 and message in r.get_json()["error"]["message"]
    assert [d["source"] for d in client.get("/api/datasets").get_json()["datasets"]].count("upload") == 0


def test_name_defaults_to_the_file_name_and_is_limited(client):
    r = post(client, name=None, filename="my digits.npz", **tiny())
    assert r.status_code == 201 and r.get_json()["dataset"]["name"] == "my digits"
    r = post(client, name="n" * 101, **tiny())
    assert r.status_code == 400 and "name: at most 100 characters" in r.get_json()["error"]["message"]


def test_upload_over_the_size_limit_answers_413_json(tmp_path):
    app = create_app({"KD_DATA_DIR": str(tmp_path / "small"), "KD_MAX_UPLOAD_MB": 1, "KD_WARM_SPARE": "0"})
    client = signed_in(app)
    r = post(client, **tiny(np.zeros((2, 1024, 1024), np.uint8)))
    assert r.status_code == 413 and "KD_MAX_UPLOAD_MB" in r.get_json()["error"]["message"]


@pytest.mark.parametrize("url, status, message", [
    ("/api/datasets/nope/images/train/0.png", 404, "There is no dataset 'nope'"),
    ("/api/datasets/digits/images/valid/0.png", 404, "split must be train or test"),
    ("/api/datasets/digits/images/test/360.png", 404, "index 360 is outside the test split (360 images: 0..359)"),
    ("/api/datasets/digits/images/test/0.png?scale=0", 400, "scale must be a whole number from 1 to 32"),
    ("/api/datasets/digits/images/test/0.png?scale=big", 400, "scale must be a whole number from 1 to 32"),
    ("/api/datasets/mnist/images/test/0.png", 404, "put mnist.npz at"),
])
def test_image_errors_are_json(client, url, status, message):
    r = client.get(url)
    assert r.status_code == status and message in r.get_json()["error"]["message"]


def test_scale_that_would_make_a_huge_image_is_refused(client):
    d = post(client, **tiny(np.zeros((2, 100, 100), np.uint8))).get_json()["dataset"]
    r = client.get(f"/api/datasets/{d['id']}/images/train/0.png?scale=21")
    assert r.status_code == 400 and "larger than 2048 pixels" in r.get_json()["error"]["message"]


def test_uploads_persist_across_restarts(tmp_path):
    config = {"KD_DATA_DIR": str(tmp_path / "data"), "KD_WARM_SPARE": "0", "TESTING": True}
    d = post(signed_in(create_app(config)), name="kept", **tiny()).get_json()["dataset"]
    client = signed_in(create_app(config))
    again = {x["id"]: x for x in client.get("/api/datasets").get_json()["datasets"]}[d["id"]]
    assert again == d
    assert np.array_equal(np.asarray(png(client.get(f"/api/datasets/{d['id']}/images/test/0.png"))),
                          tiny()["x_test"][0])


def test_one_dataset_gives_counts_and_samples(client):
    d = client.get("/api/datasets/digits").get_json()["dataset"]
    assert sum(d["train_counts"]) == 1437 and len(d["samples"]["test"]) == 10
    assert all(len(s) == 8 for s in d["samples"]["train"])
    assert client.get("/api/datasets/nope").status_code == 404


def test_datasets_page_lists_and_escapes_names_and_has_the_upload_form(client):
    post(client, name="<b>bold</b> & co", **tiny())
    html = client.get("/datasets").get_data(as_text=True)
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; co" in html and "<b>bold</b>" not in html
    assert 'id="upload-form"' in html and "Not in the Keras cache: put mnist.npz at" in html
    assert "js/pages/datasets.js" in html and "<script>" not in html


def test_dataset_page_shows_counts_and_a_grid_of_samples_per_class(client):
    html = client.get("/datasets/digits").get_data(as_text=True)
    assert "1437" in html and "360" in html
    for split in ("train", "test"):
        assert html.count(f"/api/datasets/digits/images/{split}/") == 80   # 10 classes × 8 samples
    assert "scale=8" in html
    missing = client.get("/datasets/mnist").get_data(as_text=True)
    assert "Not in the Keras cache" in missing and "/images/" not in missing
    assert client.get("/datasets/nope").status_code == 404


def test_datasets_list_command(app, cache):
    write_mnist(cache)
    out = app.test_cli_runner().invoke(args=["datasets", "list"]).output
    assert "mnist" in out and "cifar10" in out and "unavailable" in out
    assert str(cache / "cifar-10-batches-py-target") in out


def flask_cli(tmp_path, cache, *args, **env):
    """Run `flask --app wsgi ...` in a fresh process (Keras reads KERAS_HOME when it is imported)."""
    env = {**os.environ, "KERAS_HOME": str(cache.parent), "KD_DATA_DIR": str(tmp_path / "cli"), **env}
    return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.keras
def test_fetch_uses_a_complete_cache_without_the_network(tmp_path, cache):
    write_fashion_mnist(cache)   # Keras checks no hash for these files, so load_data() finds them and stops there
    r = flask_cli(tmp_path, cache, "datasets", "fetch", "fashion_mnist", https_proxy="http://127.0.0.1:9",
                  http_proxy="http://127.0.0.1:9", no_proxy="")
    assert r.returncode == 0, r.stderr
    assert "fashion_mnist is cached: 4 training and 2 test images" in r.stdout


@pytest.mark.keras
def test_fetch_offline_prints_what_to_do_without_a_traceback(tmp_path, cache):
    # A proxy on a closed local port: the download fails at once and nothing leaves this machine.
    r = flask_cli(tmp_path, cache, "datasets", "fetch", "mnist", https_proxy="http://127.0.0.1:9",
                  http_proxy="http://127.0.0.1:9", no_proxy="")
    assert r.returncode == 1
    assert "Could not fetch mnist" in r.stderr and "on a machine with internet" in r.stderr
    assert "Traceback" not in r.stderr + r.stdout and not (cache / "mnist.npz").exists()


def test_a_dataset_is_deleted_only_when_no_run_uses_it_and_it_is_not_being_built(client, services):
    ds_id = post(client, **tiny()).get_json()["dataset"]["id"]
    registry = services.datasets
    files = [registry.upload_dir / f"{ds_id}.npz", registry.pixels_path(ds_id)]
    assert all(f.is_file() for f in files) and 'id="ds-delete"' in client.get(f"/datasets/{ds_id}").get_data(as_text=True)
    with services.store.session() as s:
        run = Run(name="uses it", status="completed", dataset=ds_id, spec={}, history={})
        s.add(run)
    r = client.delete(f"/api/datasets/{ds_id}")
    assert r.status_code == 409 and r.get_json()["error"]["message"] == (
        f"1 run(s) use the dataset 'tiny': 'uses it' (#{run.id}). Delete those runs first, then the dataset.")
    with services.store.session() as s:
        s.delete(s.get(Run, run.id))
    registry.update(ds_id, {"state": "building"})
    r = client.delete(f"/api/datasets/{ds_id}")
    assert r.status_code == 409 and "is being built" in r.get_json()["error"]["message"]
    assert all(f.is_file() for f in files)
    registry.update(ds_id, {"state": "ready"})
    assert client.delete(f"/api/datasets/{ds_id}").status_code == 204
    assert client.get(f"/api/datasets/{ds_id}").status_code == 404 and not any(f.exists() for f in files)
    assert ds_id not in [d["id"] for d in client.get("/api/datasets").get_json()["datasets"]]
    r = client.delete("/api/datasets/digits")
    assert r.status_code == 404 and "built-in and Keras datasets are not deleted" in r.get_json()["error"]["message"]
    assert "dataset.delete" in [a["action"] for a in client.get("/api/actions").get_json()["actions"]]
