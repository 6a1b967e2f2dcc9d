"""`POST /api/models/import` and `POST /api/models/export` through the Flask test client."""

import ast
import io
import json
from types import SimpleNamespace

import numpy as np
import pytest

from tests.specs import CNN, MLP, spec
from tests.unit.test_imports import MNIST_CONVNET
from webapp.modelspec.exporters import train_script
from webapp.modelspec.validate import validate


def post(client, url, body):
    return client.post(url, json=body)


def test_import_python_gives_the_canonical_parts(client):
    r = post(client, "/api/models/import", {"format": "python", "source": MNIST_CONVNET})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert set(body) == {"model", "compile", "fit", "dataset", "warnings", "notes", "keras_version"}
    assert body["dataset"] == {"id": "mnist", "options": {}}   # keras.datasets.mnist.load_data()
    assert body["keras_version"]["used"] == "keras3" and body["notes"][0]["field"] == "keras_version"
    assert [l["type"] for l in body["model"]["layers"]][:2] == ["Conv2D", "MaxPooling2D"]
    assert body["model"]["layers"][0]["strides"] == [1, 1]          # defaults filled
    assert body["fit"]["validation"] == 0.1 and body["fit"]["epochs"] == 15
    assert len(body["warnings"]) == 1 and "input shape (28, 28, 1) ignored" in body["warnings"][0]


def test_import_of_a_keras_tuner_script_gives_its_sweep(client):
    from tests.unit.test_tuner_imports import HERE, SCRIPT

    source = (HERE / "random_search_guide.py").read_text()
    body = post(client, "/api/models/import", {"format": "python", "source": source}).get_json()
    assert set(body) == {"model", "compile", "fit", "dataset", "warnings", "notes", "keras_version", "sweep"}
    assert body["sweep"]["space"]["model.layers.1.units"] == {"type": "int", "low": 32, "high": 512, "step": 32}
    assert (body["sweep"]["trials"], body["sweep"]["sampler"], body["sweep"]["pruner"]) == (10, "random", "none")
    r = post(client, "/api/models/import", {"format": "python", "source": SCRIPT.format(units='hp.Choice("u", [])')})
    assert r.status_code == 422
    assert r.get_json()["errors"][0]["field"] == "source" and r.get_json()["errors"][0]["message"].startswith("Line 10:")


def test_import_without_compile_or_fit_gives_null(client):
    source = "import keras\nmodel = keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(10)])\n"
    body = post(client, "/api/models/import", {"format": "python", "source": source}).get_json()
    assert body["compile"] is None and body["fit"] is None and body["warnings"] == []


@pytest.mark.parametrize("body, field, text", [
    ({"format": "yaml", "source": "x"}, "format", "keras_json, python"),
    ({"format": "python"}, "source", "source must be the text"),
    ({"format": "python", "source": "model = (\n"}, "source", "Line 1: Python syntax error"),
    ({"format": "keras_json", "source": "{}"}, "source", "not a Keras model"),
    ({"format": "python", "source": "import keras\nm = keras.Sequential([keras.layers.Lambda(abs)])"},
     "type", "Line 2: layer 0 is a Lambda layer"),
])
def test_import_errors_are_422_with_the_field(client, body, field, text):
    r = post(client, "/api/models/import", body)
    assert r.status_code == 422
    error = r.get_json()["errors"][0]
    assert r.get_json()["ok"] is False and error["field"] == field and text in error["message"]


@pytest.mark.parametrize("body", [b"", b"[1]", b"\"text\"", b"{"])
def test_import_bad_bodies_are_4xx_json(client, body):
    r = client.post("/api/models/import", data=body, content_type="application/json")
    assert r.status_code in (400, 422) and r.is_json


def test_export_python_gives_a_script_that_imports_back(client):
    r = post(client, "/api/models/export", {"format": "python", **CNN})
    assert r.status_code == 200, r.get_json()
    source = r.get_json()["source"]
    ast.parse(source)
    back = post(client, "/api/models/import", {"format": "python", "source": source}).get_json()
    canonical = validate(CNN).to_dict()
    assert (back["model"], back["compile"], back["fit"]) == (canonical["model"], canonical["compile"], canonical["fit"])


def test_export_python_without_fit_uses_the_catalog_defaults(client):
    data = spec(MLP)
    del data["fit"]
    source = post(client, "/api/models/export", {"format": "python", **data}).get_json()["source"]
    assert 'parser.add_argument("--epochs", type=int, default=5,' in source
    assert "validation_data=(x_test, y_test)" in source


def test_export_python_needs_compile(client):
    data = spec(MLP)
    del data["compile"]
    r = post(client, "/api/models/export", {"format": "python", **data})
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "compile"


@pytest.mark.parametrize("fmt", [None, "onnx"])
def test_export_unknown_format(client, fmt):
    body = {**MLP} if fmt is None else {"format": fmt, **MLP}
    r = post(client, "/api/models/export", body)
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "format"


def test_export_shape_error_names_the_layer(client):
    bad = spec(MLP, model={"layers": [{"type": "Conv2D", "filters": 4, "kernel_size": 9}, {"type": "Flatten"},
                                      {"type": "Dense", "units": 10, "activation": "softmax"}]})
    for fmt in ("python", "keras_json"):
        r = post(client, "/api/models/export", {"format": fmt, **bad})
        assert r.status_code == 422 and r.get_json()["errors"][0]["layer"] == 0


def test_export_keras_json_and_import_it_back(client):
    r = post(client, "/api/models/export", {"format": "keras_json", **MLP})
    assert r.status_code == 200, r.get_json()
    source = r.get_json()["source"]
    model = json.loads(source)
    assert model["class_name"] == "Sequential"
    assert model["config"]["layers"][0]["config"]["batch_shape"] == [None, 8, 8, 1]
    assert model["compile_config"]["optimizer"]["class_name"] == "Adam"
    back = post(client, "/api/models/import", {"format": "keras_json", "source": source}).get_json()
    canonical = validate(MLP).to_dict()
    assert back["model"] == canonical["model"] and back["compile"] == canonical["compile"]
    assert back["fit"] is None


def test_export_unknown_dataset_is_422(client):
    r = post(client, "/api/models/export", {"format": "python", **spec(MLP, dataset="imagenet")})
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "dataset"


def test_export_for_an_uploaded_dataset_loads_what_the_dashboard_trains_on(client, services, monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))   # no test sees the machine's Keras cache
    rng = np.random.default_rng(1)
    upload = {"x_train": rng.uniform(0, 4, (20, 5, 5)).astype("float32"), "y_train": np.eye(3)[rng.integers(0, 3, 20)],
              "x_test": rng.uniform(0, 4, (6, 5, 5)).astype("float32"), "y_test": np.eye(3)[[0, 1, 2, 0, 1, 2]]}
    buffer = io.BytesIO()
    np.savez(buffer, **upload)
    buffer.seek(0)
    r = client.post("/api/datasets", data={"name": "tiny 'floats'", "file": (buffer, "tiny.npz")},
                    content_type="multipart/form-data")
    assert r.status_code == 201, r.get_json()
    dataset = r.get_json()["dataset"]
    model = {"layers": [{"type": "Flatten"}, {"type": "Dense", "units": 3, "activation": "softmax"}]}
    r = post(client, "/api/models/export", {"format": "python", **spec(MLP, dataset=dataset["id"], model=model)})
    assert r.status_code == 200, r.get_json()
    source = r.get_json()["source"]
    assert f"parser.add_argument(\"--data\", default=\"{dataset['id']}.npz\"" in source
    scope = {"np": np, "args": SimpleNamespace(data=str(services.datasets.upload_dir / f"{dataset['id']}.npz"))}
    exec("\n".join(train_script.data_source(dataset)), scope)   # the exporter's own lines, not user code
    data = services.datasets.load(dataset["id"])
    assert np.allclose(scope["x_train"], data.x_train / data.pixel_max) and scope["x_train"].max() <= 1.0
    assert np.array_equal(scope["y_test"], data.y_test) and np.array_equal(scope["y_test"], [0, 1, 2, 0, 1, 2])
