"""`POST /api/models/check` and `GET /api/layers`: shapes and parameters as model.summary() gives them."""

import pytest

from tests.specs import CNN, MLP, spec


def check(client, data):
    return client.post("/api/models/check", json=data)


def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.get_json() == {"status": "ok"}


def test_layers_lists_the_catalog_with_keras_names(client):
    body = client.get("/api/layers").get_json()
    dense = next(e for e in body["layers"] if e["type"] == "Dense")
    units = next(p for p in dense["params"] if p["name"] == "units")
    assert units["kind"] == "int" and units["required"] and units["min"] == 1
    assert {"Conv2D", "LSTM", "Bidirectional", "Embedding", "SpatialDropout2D"} <= {e["type"] for e in body["layers"]}
    assert {"SGD", "Adam", "AdamW", "Lion"} <= {e["type"] for e in body["optimizers"]}
    assert all(e["doc"] for e in body["layers"])


def test_cnn_shapes_and_params_match_keras(client):
    r = check(client, CNN)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    rows = [(l["name"], l["output_shape"], l["params"]) for l in body["layers"]]
    assert rows == [
        ("conv2d", [None, 6, 6, 32], 320),
        ("conv2d_1", [None, 4, 4, 64], 18496),
        ("max_pooling2d", [None, 2, 2, 64], 0),
        ("dropout", [None, 2, 2, 64], 0),
        ("flatten", [None, 256], 0),
        ("dense", [None, 128], 32896),
        ("dropout_1", [None, 128], 0),
        ("dense_1", [None, 10], 1290),
    ]
    assert body["total_params"] == body["trainable_params"] == 320 + 18496 + 32896 + 1290
    assert body["warnings"] == []


def test_batchnorm_counts_non_trainable_params(client):
    body = check(client, spec(model={"layers": [{"type": "Flatten"}, {"type": "BatchNormalization"},
                                                {"type": "Dense", "units": 10, "activation": "softmax"}]})).get_json()
    assert body["layers"][1]["params"] == 4 * 64
    assert body["total_params"] - body["trainable_params"] == 2 * 64


def test_rank_error_names_the_layer(client):
    bad = spec(model={"layers": [{"type": "Flatten"}, {"type": "Dense", "units": 128},
                                 {"type": "Conv2D", "filters": 8, "kernel_size": 3},
                                 {"type": "Dense", "units": 10, "activation": "softmax"}]})
    r = check(client, bad)
    assert r.status_code == 422
    err = r.get_json()["errors"][0]
    assert err["layer"] == 2
    assert err["message"].startswith("Conv2D needs 3-D input per sample (height, width, channels); layer 2 gets (128,)")


def test_lstm_on_images_suggests_a_reshape(client):
    bad = spec(model={"layers": [{"type": "LSTM", "units": 16}, {"type": "Dense", "units": 10, "activation": "softmax"}]})
    err = check(client, bad).get_json()["errors"][0]
    assert err["layer"] == 0 and "Reshape with target_shape [8, 8]" in err["message"]


def test_keras_shape_error_is_mapped_to_its_layer(client):
    bad = spec(model={"layers": [{"type": "Conv2D", "filters": 8, "kernel_size": [9, 9]}, {"type": "Flatten"},
                                 {"type": "Dense", "units": 10, "activation": "softmax"}]})
    r = check(client, bad)
    assert r.status_code == 422
    err = r.get_json()["errors"][0]
    assert err["layer"] == 0 and "larger than its input" in err["message"]


def test_reshape_size_mismatch(client):
    bad = spec(model={"layers": [{"type": "Reshape", "target_shape": [7, 7]}, {"type": "Flatten"},
                                 {"type": "Dense", "units": 10, "activation": "softmax"}]})
    err = check(client, bad).get_json()["errors"][0]
    assert (err["layer"], err["field"]) == (0, "target_shape") and "64 values" in err["message"]


def test_output_width_must_match_classes(client):
    bad = spec(model={"layers": [{"type": "Flatten"}, {"type": "Dense", "units": 12, "activation": "softmax"}]})
    err = check(client, bad).get_json()["errors"][0]
    assert (err["layer"], err["field"]) == (1, "units")
    assert "12 outputs but the dataset has 10 classes" in err["message"]


def test_binary_loss_on_ten_classes(client):
    bad = spec(compile={"optimizer": "adam", "loss": "binary_crossentropy"})
    err = check(client, bad).get_json()["errors"][0]
    assert err["field"] == "compile.loss" and "has 10" in err["message"]


def test_unflattened_output(client):
    bad = spec(model={"layers": [{"type": "Conv2D", "filters": 10, "kernel_size": 3, "activation": "softmax"}]})
    err = check(client, bad).get_json()["errors"][0]
    assert "Add Flatten" in err["message"]


def test_missing_softmax_is_a_warning(client):
    body = check(client, spec(model={"layers": [{"type": "Flatten"}, {"type": "Dense", "units": 10}]})).get_json()
    assert body["ok"] and "not softmax" in body["warnings"][0]


def test_check_without_compile_gives_shapes(client):
    r = check(client, {"dataset": "digits", "model": MLP["model"]})
    assert r.status_code == 200 and r.get_json()["layers"][-1]["output_shape"] == [None, 10]


@pytest.mark.parametrize("body", [b"", b"{", b"[1,2]", b"null"])
def test_bad_bodies_are_4xx(client, body):
    r = client.post("/api/models/check", data=body, content_type="application/json")
    assert r.status_code in (400, 422)
    assert r.is_json


def test_unknown_dataset(client):
    err = check(client, spec(dataset="imagenet")).get_json()["errors"][0]
    assert err["field"] == "dataset" and "digits" in err["message"]


def test_api_404_is_json(client):
    r = client.get("/api/nothing-here")
    assert r.status_code == 404 and r.get_json()["error"]["message"]


def test_layers_keeps_zero_bounds(client):
    body = client.get("/api/layers").get_json()
    lstm = next(e for e in body["layers"] if e["type"] == "LSTM")
    dropout = next(p for p in lstm["params"] if p["name"] == "dropout")
    assert dropout["min"] == 0 and dropout["max"] == 1 and dropout["max_exclusive"] is True
    assert "min_exclusive" not in dropout


BACKBONE = {"type": "MobileNetV2", "alpha": 0.35, "input_shape": [96, 96, 3], "weights": None, "pooling": "avg"}


def test_a_backbone_is_one_block_with_the_layers_it_needs_in_front_shown_as_added(client):
    body = spec(MLP, model={"layers": [BACKBONE, {"type": "Dense", "units": 10, "activation": "softmax"}]})
    r = check(client, body)
    assert r.status_code == 200, r.get_json()
    rows = r.get_json()["layers"]
    assert [(row["type"], row["output_shape"], row.get("added", False)) for row in rows] == [
        ("Resizing", [None, 96, 96, 1], True), ("Conv2D", [None, 96, 96, 3], True),
        ("Rescaling", [None, 96, 96, 3], True), ("MobileNetV2", [None, 1280], False), ("Dense", [None, 10], False)]
    assert rows[3]["params"] == 410_208 and rows[3]["trainable_params"] == 0   # frozen by default
    assert all("note" in row for row in rows[:3]) and "-1, 1" in rows[2]["note"]
    assert r.get_json()["activations"]["largest_layer"] == 0   # the block's own outputs are counted


@pytest.mark.parametrize("layer,field,words", [
    ({"type": "MobileNetV5"}, "type", "not an allowed layer"),
    ({**BACKBONE, "depth": 3}, "depth", "no parameter 'depth'"),
    ({**BACKBONE, "alpha": 0.4}, "alpha", "0.35, 0.5"),
    ({**BACKBONE, "weights": "imagenet", "input_shape": [100, 100, 3]}, "input_shape", "96, 128, 160, 192, 224"),
    ({**BACKBONE, "type": "InceptionV3", "alpha": None, "input_shape": [64, 64, 3]}, "input_shape", "at least 75"),
    ({**BACKBONE, "include_top": True}, "include_top", "your own head"),
    ({**BACKBONE, "weights": 12345}, "weights", "do not exist"),
])
def test_a_backbone_argument_it_does_not_accept_is_a_422_naming_the_field(client, layer, field, words):
    layer = {k: v for k, v in layer.items() if v is not None}
    r = check(client, spec(MLP, model={"layers": [layer, {"type": "Dense", "units": 10, "activation": "softmax"}]}))
    assert r.status_code == 422
    error = r.get_json()["errors"][0]
    assert (error["layer"], error["field"]) == (0, field) and words in error["message"], error


def test_uploaded_weights_are_checked_against_their_architecture_listed_used_and_deleted(client, tmp_path, monkeypatch):
    from tests.keras_cache import write_application_weights

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    listed = {m["type"]: m for m in client.get("/api/pretrained").get_json()["models"]}
    assert listed["MobileNetV2"]["input_sizes"] == [96, 128, 160, 192, 224]
    assert listed["MobileNetV2"]["weights"]["imagenet"] == {
        "available": False, "file": "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5",
        "folder": str(tmp_path / "keras" / "models"), "download": False}

    wrong, _ = write_application_weights(tmp_path / "wrong", "MobileNet", {"alpha": 0.25}, 128)
    right, _ = write_application_weights(tmp_path / "right", "MobileNetV2", {"alpha": 0.35}, 96)

    def upload(path, name):
        with open(path, "rb") as f:
            return client.post("/api/weights", data={"file": (f, name), "model": "MobileNetV2",
                                                     "args": '{"alpha": 0.35}'}, content_type="multipart/form-data")

    r = upload(wrong, "mine.h5")   # MobileNet's layers, not MobileNetV2's: Keras names where they part
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "file"
    assert "does not fit MobileNetV2" in r.get_json()["errors"][0]["message"]
    assert "layer" in r.get_json()["errors"][0]["message"].lower()
    assert upload(right, "notes.txt").status_code == 400
    r = upload(right, "mine.h5")
    assert r.status_code == 201, r.get_json()
    weights = r.get_json()["weights"]
    assert (weights["model"], weights["name"]) == ("MobileNetV2", "mine.h5")
    assert [w["id"] for w in client.get("/api/weights").get_json()["weights"]] == [weights["id"]]
    body = spec(MLP, model={"layers": [{**BACKBONE, "weights": weights["id"]}, {"type": "Dense", "units": 10}]})
    assert check(client, body).status_code == 200
    assert client.delete(f"/api/weights/{weights['id']}").status_code == 204
    assert client.get("/api/weights").get_json()["weights"] == []
    assert client.delete(f"/api/weights/{weights['id']}").status_code == 404
    assert check(client, body).status_code == 422
