"""Graph (functional) models trained for real on the digits: the check, training, artifacts, continue,
predictions, the inside view; and every graph error of the check is a 422 at the right layer."""

import pytest

from tests.integration.runs_helpers import get, start, wait_for
from tests.specs import BRANCHES, RESIDUAL, spec
from webapp.runs import paths

pytestmark = pytest.mark.keras


def check(client, data):
    return client.post("/api/models/check", json=data)


def test_check_gives_each_layer_its_inputs_and_keras_params(client):
    from webapp.modelspec.build import init_keras

    keras = init_keras()
    inputs = keras.Input((8, 8, 1))
    stem = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(stem)
    x = keras.layers.Conv2D(8, 3, padding="same")(x)
    x = keras.layers.Activation("relu")(keras.layers.add([stem, x]))
    x = keras.layers.Dense(10, activation="softmax")(keras.layers.GlobalAveragePooling2D()(x))
    model = keras.Model(inputs, x)

    r = check(client, RESIDUAL)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["total_params"] == model.count_params()
    assert [(row["output_shape"], row["params"]) for row in body["layers"]] == [
        ([None, *layer.output.shape[1:]], layer.count_params()) for layer in model.layers[1:]]
    assert body["layers"][3]["inputs"] == ["stem", "conv2d_1"] and body["layers"][3]["type"] == "Add"


def test_a_merge_of_incompatible_shapes_is_a_422_naming_both(client):
    data = spec(RESIDUAL)
    data["model"]["layers"][2]["padding"] = "valid"
    r = check(client, data)
    assert r.status_code == 422
    (error,) = r.get_json()["errors"]
    assert error["layer"] == 3 and error["field"] == "inputs"
    assert "(8, 8, 8) from stem and (6, 6, 8) from conv2d_1" in error["message"]
    assert error["message"].startswith("Layer 3 (Add 'add') cannot merge its inputs ['stem', 'conv2d_1']")


@pytest.mark.parametrize("change, layer, words", [
    ({"inputs": ["dense"]}, 0, "is on a cycle"),
    ({"inputs": ["input"], "name": "spare"}, None, "does not lead to the output"),
    ({"inputs": ["nothing"]}, 0, "which is no layer of the model"),
])
def test_graph_errors_are_422_at_the_layer(client, change, layer, words):
    data = spec(RESIDUAL)
    if layer is None:
        data["model"]["layers"].insert(1, {"type": "Flatten", **change})
        data["model"]["layers"][2]["inputs"] = ["stem"]
        layer = 1
    else:
        data["model"]["layers"][layer].update(change)
    r = check(client, data)
    assert r.status_code == 422
    assert any(e["layer"] == layer and e["field"] == "inputs" and words in e["message"]
               for e in r.get_json()["errors"]), r.get_json()


def test_residual_and_two_branch_models_train_continue_and_predict(client, services):
    from webapp.modelspec.build import init_keras

    runs = [start(client, RESIDUAL), start(client, BRANCHES)]
    for run_id, data in zip(runs, (RESIDUAL, BRANCHES)):
        run = wait_for(lambda: get(client, run_id))
        assert run["status"] == "completed", run["error"]
        assert run["epochs_done"] == 1 and {"loss", "val_accuracy"} <= set(run["history"])
        script = client.get(f"/api/runs/{run_id}/artifacts/train.py").get_data(as_text=True)
        assert "keras.Model(inputs, dense)" in script
        model = init_keras().saving.load_model(paths.artifact(services.data_dir, run_id, paths.MODEL))
        assert model.count_params() == run["summary"]["total_params"]
        assert [layer.name for layer in model.layers[1:]] == [row["name"] for row in run["summary"]["layers"]]
        body = client.get(f"/api/runs/{run_id}/predictions?limit=5").get_json()
        assert body["total"] == 360 and len(body["items"]) == 5
    inside = client.get(f"/api/runs/{runs[0]}/inside/0").get_json()
    assert "add" in [layer["name"] for layer in inside["layers"]]
    assert client.post(f"/api/runs/{runs[1]}/continue", json={"epochs": 1}).status_code == 202
    run = wait_for(lambda: get(client, runs[1]), until=lambda r: r["epochs_done"] == 2)
    assert run["status"] == "completed", run["error"]


def test_a_check_again_after_an_edit_gives_what_a_first_check_gives(client):
    from webapp.modelspec import shape_memo

    data = spec(RESIDUAL)
    first = check(client, data).get_json()
    data["model"]["layers"][0]["filters"] = 4
    data["model"]["layers"][1]["filters"] = 4
    data["model"]["layers"][2]["filters"] = 4
    edited = check(client, data).get_json()
    shape_memo.SHAPES.clear()
    assert check(client, data).get_json() == edited
    assert edited["total_params"] < first["total_params"]
    assert edited["layers"][3]["output_shape"] == [None, 8, 8, 4]
