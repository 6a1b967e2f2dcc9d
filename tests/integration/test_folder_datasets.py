"""Folder archives over HTTP: a .zip or .tar.gz of class folders built into a dataset, and every bad archive's message."""

import ast
import io
import tarfile
import zipfile

import numpy as np
import pytest
from PIL import Image

from webapp.datasets import builder, folders
from webapp.modelspec.exporters import train_script

RED, GREEN = (200, 10, 10), (10, 200, 10)


def image(size, mode="RGB", colour=RED, fmt="PNG"):
    """Give the bytes of a plain image of `size` (width, height)."""
    out = io.BytesIO()
    Image.new(mode, size, colour if mode == "RGB" else colour[0]).save(out, format=fmt)
    return out.getvalue()


def make_zip(files, links=()):
    """Give a .zip of {path: bytes}; `links` are stored as symlinks."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for path, data in files.items():
            z.writestr(path, data)
        for path in links:
            info = zipfile.ZipInfo(path)
            info.external_attr = (0o120777 << 16)
            z.writestr(info, "../../etc/passwd")
    return out.getvalue()


def make_tgz(files):
    """Give a .tar.gz of {path: bytes}."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as t:
        for path, data in files.items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return out.getvalue()


def upload(client, data, filename="pets.zip", **form):
    """POST an archive as the page does; give the response."""
    return client.post("/api/datasets", data={"name": "pets", "file": (io.BytesIO(data), filename), **form},
                       content_type="multipart/form-data")


def built(client, response):
    """Give the dataset of a 202 once its builder is done (the spawned process is waited for)."""
    assert response.status_code == 202, response.get_json()
    ds = response.get_json()["dataset"]
    # A builder that cannot start at all may have failed the row already, before the answer was made.
    assert ds["state"] in ("building", "failed")
    for thread in list(__import__("threading").enumerate()):
        if thread.name == "kd-build-relay":
            thread.join()
    return client.get(f"/api/datasets/{ds['id']}").get_json()["dataset"]


def pets(n_cat=10, n_dog=5):
    """Give a class-folder layout: RGB PNG cats (32×24, one 16×16), JPEG dogs, grayscale birds in a wrapping folder."""
    files = {f"pets/cat/{i}.png": image((32, 24), colour=RED) for i in range(n_cat)}
    files["pets/cat/small.png"] = image((16, 16), colour=RED)
    files.update({f"pets/dog/{i}.jpg": image((32, 24), colour=GREEN, fmt="JPEG") for i in range(n_dog)})
    files.update({f"pets/bird/{i}.png": image((32, 24), "L", (90,)) for i in range(4)})
    files["pets/notes.txt"] = b"not an image"
    files["__MACOSX/pets/._0.png"] = b"finder clutter"
    return files


def test_a_zip_of_class_folders_becomes_a_dataset_with_keras_defaults(client, services):
    ds = built(client, upload(client, make_zip(pets())))
    assert ds["state"] == "ready" and ds["available"], ds
    assert ds["class_names"] == ["bird", "cat", "dog"]           # sorted folder names, as Keras does
    assert ds["input_shape"] == [24, 32, 3]                       # the most common size; RGB from the images
    # 0.2 of each class to test, seeded and stratified: bird 4 -> 1, cat 11 -> 2, dog 5 -> 1
    assert ds["train_counts"] == [3, 9, 4] and ds["test_counts"] == [1, 2, 1]
    facts = ds["provenance"]["facts"]
    assert facts["resized"] == 1 and ds["provenance"]["archive"] == "pets.zip"
    assert any("resized to 24×32" in n for n in ds["provenance"]["notes"])
    data = services.datasets.load(ds["id"])
    assert data.x_train.dtype == np.uint8 and data.pixel_max == 255
    cat = data.x_train[data.y_train == 1][0]
    assert tuple(cat[0, 0]) == RED and np.allclose(data.x_train[data.y_train == 0][0], 90)   # gray -> RGB
    assert np.abs(data.x_train[data.y_train == 2][0].astype(int) - GREEN).max() < 8          # JPEG, nearly
    assert list((services.data_dir / "datasets" / "incoming").iterdir()) == []


def test_a_tar_gz_with_train_and_test_folders_keeps_that_split_in_grayscale(client, services):
    files = {f"train/{c}/{i}.png": image((8, 8), "L", (40 * (k + 1),)) for k, c in enumerate("ab") for i in range(3)}
    files.update({f"test/{c}/{i}.png": image((8, 8), "L", (40 * (k + 1),)) for k, c in enumerate("ab") for i in range(2)})
    ds = built(client, upload(client, make_tgz(files), "ab.tar.gz", test_fraction="0.5"))
    assert ds["state"] == "ready", ds
    assert (ds["input_shape"], ds["train_counts"], ds["test_counts"]) == ([8, 8, 1], [3, 3], [2, 2])
    data = services.datasets.load(ds["id"])
    assert set(np.unique(data.x_test[data.y_test == 1])) == {80}


def test_options_size_and_colour_mode_are_applied(client, services):
    r = upload(client, make_zip(pets()), image_size="10,12", color_mode="grayscale", seed="3")
    assert upload(client, make_zip(pets()), image_size="10").get_json()["error"]["message"].startswith("image_size:")
    ds = built(client, r)
    assert ds["input_shape"] == [10, 12, 1] and ds["provenance"]["options"]["seed"] == 3
    assert ds["provenance"]["facts"]["resized"] == 20


@pytest.mark.parametrize("files, message", [
    ({"a.png": image((4, 4)), "b.png": image((4, 4))}, "no class folders"),
    ({"x/only/1.png": image((4, 4))}, "one class folder only ('only')"),
    ({"a/1.png": image((4, 4)), "a/2.png": image((4, 4)), "b/readme.txt": b"hi"}, "The class folder 'b' holds no image"),
    ({**{f"a/{i}.png": image((4, 4)) for i in range(4)}, **{f"b/{i}.png": b"\x89PNG broken" for i in range(4)}},
     "4 of 8 images could not be read (more than 10%)"),
    ({"a/1.png": image((4, 4)), "a/2.png": image((4, 4)), "b/../../evil.png": image((4, 4))}, "path traversal"),
    ({"a/1.png": image((4, 4)), "b/inner.zip": make_zip({"c/1.png": image((4, 4))})}, "nested archives"),
    ({"a/1.png": image((4, 4)), "b/1.png": image((4, 4))}, "each class needs at least 2"),
])
def test_a_bad_archive_fails_with_one_clear_message_and_leaves_nothing(services, files, message):
    ds_id = build_here(services, make_zip(files))
    ds = services.datasets.info(ds_id)
    assert ds["state"] == "failed" and message in ds["error"], ds["error"]
    assert not ds["available"]
    assert [p.name for p in (services.data_dir / "datasets").rglob("*") if p.is_file()] == []


def test_a_bad_archive_through_http_answers_202_then_failed(client, services):
    ds = built(client, upload(client, make_zip({"a/1.png": image((4, 4)), "../b/1.png": image((4, 4))})))
    assert ds["state"] == "failed" and "path traversal" in ds["error"]
    assert [p.name for p in (services.data_dir / "datasets").rglob("*") if p.is_file()] == []


def test_a_few_corrupt_images_are_skipped_and_counted(services):
    files = {f"{c}/{i}.png": image((4, 4)) for c in "ab" for i in range(10)}
    files["b/broken.png"] = image((4, 4))[:40]   # a truncated PNG: its header reads, its pixels do not
    ds = services.datasets.info(build_here(services, make_zip(files)))
    assert ds["state"] == "ready" and ds["provenance"]["facts"]["unreadable_count"] == 1
    assert "could not be read and were skipped (e.g. b/broken.png" in ds["provenance"]["notes"][0]


def limits(max_images=100, max_mb=10):
    return {"max_images": max_images, "max_bytes": max_mb * 2**20}


def ingest_zip(tmp_path, data, **kw):
    path = tmp_path / "up.zip"
    path.write_bytes(data)
    return folders.ingest(path, "zip", folders.Options(), limits(**kw))


@pytest.mark.parametrize("data, kw, message", [
    (make_zip({"a/1.png": image((4, 4))}, links=["b/1.png"]), {}, "links are refused"),
    (make_zip({f"{c}/{i}.png": image((4, 4)) for c in "ab" for i in range(6)}), {"max_images": 10},
     "more than 10 images (KD_MAX_IMAGES)"),
    (make_zip({"a/1.png": image((4, 4)), "b/bomb.png": bytes(30 * 2**20)}), {}, "looks like a zip bomb"),
    (make_zip({"/abs/1.png": image((4, 4))}), {}, "path traversal"),
])
def test_archives_that_could_escape_or_explode_are_refused_before_reading_an_image(tmp_path, data, kw, message):
    with pytest.raises(folders.UploadError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ingest_zip(tmp_path, data, **kw)


def build_here(services, data, emit=None):
    """Build an archive with the builder in this process (as its spawned process would); give the id."""
    ds_id = services.datasets.begin("p", None, {"format": "zip", "archive": "p.zip", "options":
                                                folders.Options().to_dict(), "limits": limits()})
    services.datasets.incoming(ds_id, "zip").write_bytes(data)
    builder.build_recorded(services.datasets, ds_id, emit or (lambda event: None))
    return ds_id


def test_the_builder_reports_progress_with_an_eta(services, monkeypatch):
    monkeypatch.setattr(builder, "EVERY_S", 0)
    events = []
    ds_id = build_here(services, make_zip({f"{c}/{i}.png": image((4, 4)) for c in "ab" for i in range(5)}),
                       events.append)
    progress = [d for name, d in events if name == "dataset_progress"]
    assert [p["done"] for p in progress] == list(range(1, 11)) and progress[-1]["total"] == 10
    assert progress[-1]["eta_s"] == 0 and events[-1] == ("dataset_state", {"dataset_id": ds_id, "state": "ready",
                                                                          "error": None})


def test_the_dataset_page_and_its_calls_show_what_the_model_will_see(client, services):
    ds_id = build_here(services, make_zip(pets(n_cat=30)))
    html = client.get(f"/datasets/{ds_id}").get_data(as_text=True)
    assert "p.zip" in html and "none yet" in html and "resized to 24×32" in html and "Augmentation preview" in html
    page = client.get(f"/api/datasets/{ds_id}/samples?split=train&class=1&offset=8&limit=100").get_json()
    assert page["total"] == 25 and len(page["indexes"]) == 17           # cat: 31 images, 6 to test
    stats = client.get(f"/api/datasets/{ds_id}/stats").get_json()
    assert len(stats["histogram"]["counts"]) == 3 and len(stats["mean_images"]) == 3
    assert sum(stats["histogram"]["counts"][0]) == 25 * 24 * 32 + 3 * 24 * 32 + 4 * 24 * 32
    mean = Image.open(io.BytesIO(client.get(stats["mean_images"][1]).data))
    assert mean.size == (32, 24) and mean.getpixel((0, 0)) == RED
    with np.load(io.BytesIO(client.get(f"/api/datasets/{ds_id}/download").data), allow_pickle=False) as f:
        assert f["x_train"].shape == (32, 24, 32, 3)
    r = client.post(f"/api/datasets/{ds_id}/augment", json={"layers": [{"type": "Dense", "units": 3}]})
    assert r.status_code == 422 and "Only augmentation layers" in r.get_json()["errors"][0]["message"]


def test_train_py_names_the_archive_as_a_python_literal_and_offers_the_folder_and_the_servers_npz(services):
    ds_id = build_here(services, make_zip({f"{c}/{i}.png": image((4, 4)) for c in "ab" for i in range(3)}))
    services.datasets.update(ds_id, {"archive": 'evil.zip\nimport os; os.system("x")'})
    lines = train_script.data_source(services.datasets.info(ds_id))
    assert all(line.startswith("#") for line in lines[:3]) and "'evil.zip\\nimport os" in lines[0]
    assert f"/api/datasets/{ds_id}/download" in lines[2]
    assert "    data = np.load(args.data, allow_pickle=False)" in lines and "def load_folder(folder):" in lines
    arguments = train_script.data_arguments(services.datasets.info(ds_id))
    call = ast.parse(arguments[0]).body[0].value   # one call, the name a plain string: nothing breaks out
    assert [k.value.value for k in call.keywords if k.arg == "default"] == ['evil.zip\nimport os; os.system("x")']


@pytest.mark.parametrize("executable, message", [
    ("/bin/false", "The process building this dataset ended unexpectedly (exit code 1); nothing was stored."),
    ("/nonexistent/python", "The process to build this dataset could not start"),
])
def test_a_builder_that_dies_or_never_starts_fails_its_dataset(client, services, monkeypatch, executable, message):
    from webapp.datasets import builds

    monkeypatch.setattr(builds.sys, "executable", executable)
    ds = built(client, upload(client, make_zip({f"{c}/{i}.png": image((4, 4)) for c in "ab" for i in range(3)})))
    assert ds["state"] == "failed" and ds["error"].startswith(message)
    assert not list(services.datasets.upload_dir.glob(f"**/{ds['id']}*"))


def test_a_spawned_builder_whose_web_process_is_gone_still_ends_its_dataset(services):
    """The row's fields normally go up the pipe for the web process to write; with nobody reading, the builder writes them."""
    import os

    from webapp.datasets import builds

    ds_id = services.datasets.begin("p", None, {"format": "zip", "archive": "p.zip", "options":
                                                folders.Options().to_dict(), "limits": limits()})
    services.datasets.incoming(ds_id, "zip").write_bytes(make_zip({f"{c}/{i}.png": image((4, 4)) for c in "ab"
                                                                   for i in range(3)}))
    read, write = os.pipe()
    os.close(read)   # the web process went away before the builder said anything
    process = builds.spawn(services.builds.settings, ds_id, services.datasets.build_order(ds_id), write)
    os.close(write)
    assert process.wait(timeout=120) == 0
    ds = services.datasets.info(ds_id)
    assert ds["state"] == "ready" and ds["train_counts"] == [2, 2] and ds["available"]


# -- text folders and series (issue 24) ------------------------------------------------------------

FILLER = "the a film movie story plot actor scene was is and of it this that very quite rather".split()


def reviews(n=60, seed=0):
    """Give a text-folder layout: n reviews a class, each with filler words and its class's planted word."""
    import random

    rng = random.Random(seed)
    files = {}
    for label, word in (("neg", "awful"), ("pos", "superb")):
        for i in range(n):
            words = rng.choices(FILLER, k=12)
            words.insert(rng.randrange(13), word)
            files[f"reviews/{label}/{i:03d}.txt"] = " ".join(words).encode()
    files["reviews/README.md"] = b"not a review"
    return files


TEXT_MODEL = [{"type": "TextVectorization", "max_tokens": 100, "output_sequence_length": 16},
              {"type": "Embedding", "input_dim": 100, "output_dim": 8},
              {"type": "GlobalAveragePooling1D"},
              {"type": "Dense", "units": 2, "activation": "softmax"}]


def run_spec(ds_id, layers, epochs, learning_rate=0.02):
    """Give a run spec on `ds_id` (sparse labels, Adam)."""
    return {"name": "t", "dataset": ds_id, "model": {"layers": layers},
            "compile": {"optimizer": {"type": "Adam", "learning_rate": learning_rate}, "loss": "sparse_categorical_crossentropy",
                        "metrics": ["accuracy"]},
            "fit": {"epochs": epochs, "batch_size": 16, "validation": "test"}}


def test_a_text_folder_trains_through_textvectorization_and_model_keras_predicts_raw_strings(client, services,
                                                                                              tmp_path):
    from tests.integration.runs_helpers import get, start, wait_for
    from webapp.modelspec.build import init_keras
    from webapp.predict import predictions
    from webapp.runs import paths

    ds = built(client, upload(client, make_tgz(reviews()), "reviews.tar.gz"))
    assert ds["state"] == "ready", ds
    assert (ds["kind"], ds["input_shape"], ds["input_dtype"], ds["class_names"]) == ("text", [], "string", ["neg", "pos"])
    assert ds["train_counts"] == [48, 48] and ds["test_counts"] == [12, 12]
    assert any("not .txt were ignored" in n for n in ds["provenance"]["notes"])
    data = services.datasets.load(ds["id"])
    assert data.kind == "text" and data.x_train.dtype == object and "awful" in data.x_train[0]
    assert "Training texts" in client.get(f"/datasets/{ds['id']}").get_data(as_text=True)   # no pixels drawn
    assert "holds texts, not images" in client.get(f"/api/datasets/{ds['id']}/stats").get_json()["error"]["message"]

    check = client.post("/api/models/check", json=run_spec(ds["id"], TEXT_MODEL, 1)).get_json()
    assert [row["output_shape"] for row in check["layers"]] == [[None, 16], [None, 16, 8], [None, 8], [None, 2]]
    bad = client.post("/api/models/check", json=run_spec(ds["id"], TEXT_MODEL[1:], 1))
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["layer"] == 0
    assert "starts with TextVectorization" in bad.get_json()["errors"][0]["message"]
    on_images = client.post("/api/models/check", json={**run_spec("digits", TEXT_MODEL, 1)})
    assert on_images.status_code == 422 and "takes strings" in on_images.get_json()["errors"][0]["message"]

    run_id = start(client, run_spec(ds["id"], TEXT_MODEL, 5, 0.05))
    run = wait_for(lambda: get(client, run_id))
    assert run["status"] == "completed", run["error"]
    assert run["history"]["val_accuracy"][-1] >= 0.9, run["history"]
    saved = predictions.Predictions.load(paths.artifact(services.data_dir, run_id, predictions.FILE))
    model_file = tmp_path / "model.keras"
    model_file.write_bytes(client.get(f"/api/runs/{run_id}/artifacts/model.keras").data)
    keras = init_keras()
    model = keras.saving.load_model(model_file)   # plain Keras: the vocabulary came inside the file
    texts = np.array(list(data.x_test), dtype=object)
    assert (np.argmax(model.predict(texts, verbose=0), -1) == saved.predicted).all()
    raw = np.argmax(model.predict(np.array(["a superb film", "an awful film"], dtype=object), verbose=0), -1)
    assert raw.tolist() == [1, 0]


def ucr_rows(n=40, length=24, seed=0):
    """Give a UCR-layout .tsv: label -1 (a rising ramp) or 1 (a sine), then the values, plus noise."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, length)
    lines = []
    for i in range(n):
        label = -1 if i % 2 else 1
        values = (t if label == -1 else np.sin(6 * t)) + rng.normal(0, 0.05, length)
        lines.append("\t".join([str(label)] + [f"{v:.4f}" for v in values]))
    return ("\n".join(lines) + "\n").encode()


def test_a_ucr_series_tsv_trains_a_conv1d(client, services):
    from tests.integration.runs_helpers import get, start, wait_for

    r = client.post("/api/datasets", data={"name": "ramps", "file": (io.BytesIO(ucr_rows()), "Ramps_TRAIN.tsv")},
                    content_type="multipart/form-data")
    ds = built(client, r)
    assert ds["state"] == "ready", ds
    assert (ds["kind"], ds["input_shape"], ds["class_names"]) == ("series", [24, 1], ["-1", "1"])
    assert ds["train_counts"] == [16, 16] and ds["test_counts"] == [4, 4]
    layers = [{"type": "Conv1D", "filters": 8, "kernel_size": 3, "activation": "relu"},
              {"type": "GlobalAveragePooling1D"}, {"type": "Dense", "units": 2, "activation": "softmax"}]
    run = wait_for(lambda: get(client, run_id)) if (run_id := start(client, run_spec(ds["id"], layers, 1))) else None
    assert run["status"] == "completed", run["error"]
    data = services.datasets.load(ds["id"])
    assert data.kind == "series" and data.x_train.dtype == np.float32 and data.x_train.shape == (32, 24, 1)


@pytest.mark.parametrize("files, message", [
    ({"a/1.txt": b"x", "a/2.txt": b"y", "b/1.txt": b"ok", "b/2.txt": b"PK\0\3binary"}, "b/2.txt: holds NUL bytes"),
    ({"a/1.txt": b"x", "a/2.txt": b"y", "b/1.txt": b"ok", "b/2.txt": b"caf\xe9"}, "b/2.txt: not UTF-8"),
    ({"a/1.txt": b"x", "a/2.txt": b"y", "b/notes.md": b"hi", "c/1.txt": b"z", "c/2.txt": b"w"},
     "The class folder 'b' holds no text"),
    ({"a/1.txt": b"x", "a/2.txt": b"y"}, "one class folder only ('a')"),
])
def test_a_bad_text_archive_fails_with_one_message_naming_the_file_and_leaves_nothing(services, files, message):
    ds = services.datasets.info(build_here(services, make_zip(files)))
    assert ds["state"] == "failed" and message in ds["error"], ds["error"]
    assert [p.name for p in (services.data_dir / "datasets").rglob("*") if p.is_file()] == []


@pytest.mark.parametrize("text, message", [
    (b"1\t1\t2\n2\t3\n", "s.tsv, line 2: 1 values where the first line has 2"),
    (b"1\t1\t2\n2\t3\tmuch\n", "s.tsv, line 2: column 3 is 'much', not a finite number"),
    (b"1\t" + b"\t".join([b"0"] * 10**6) + b"\n", "s.tsv, line 1: 1000000 values, more than the 100000"),
    (b"1\t2\n" + b"1\t" + b"0" * 4 * 10**6 + b"\n", "s.tsv, line 2: longer than 3200032 characters"),
])
def test_a_bad_series_fails_naming_the_line_and_leaves_nothing(services, text, message):
    ds_id = services.datasets.begin("s", None, {"format": "tsv", "archive": "s.tsv", "options":
                                                folders.Options().to_dict(), "limits": limits()})
    services.datasets.incoming(ds_id, "tsv").write_bytes(text)
    builder.build_recorded(services.datasets, ds_id, lambda event: None)
    ds = services.datasets.info(ds_id)
    assert ds["state"] == "failed" and message in ds["error"], ds["error"]
    assert [p.name for p in (services.data_dir / "datasets").rglob("*") if p.is_file()] == []
