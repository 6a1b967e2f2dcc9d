"""Every layer the catalog gained for old scripts: shapes and parameters as Keras counts them, and a real run.

Each model below is written twice: as a spec (what a user or an import sends) and as Keras calls with
Keras's own defaults. `POST /api/models/check` must give, layer by layer, what Keras's `count_params()`
and output shapes give for the Keras version.
"""

import pytest

from tests.integration.runs_helpers import get, start, wait_for
from tests.specs import MLP, spec

DENSE10 = {"type": "Dense", "units": 10, "activation": "softmax"}

IMAGES = [
    {"type": "Rescaling", "scale": 1.0},
    {"type": "RandomFlip", "mode": "horizontal"},
    {"type": "RandomRotation", "factor": 0.1},
    {"type": "RandomZoom", "height_factor": 0.1},
    {"type": "RandomTranslation", "height_factor": 0.1, "width_factor": 0.1},
    {"type": "RandomContrast", "factor": 0.1},
    {"type": "Resizing", "height": 10, "width": 10},
    {"type": "RandomCrop", "height": 9, "width": 9},
    {"type": "Conv2DTranspose", "filters": 4, "kernel_size": 3},
    {"type": "SeparableConv2D", "filters": 8, "kernel_size": 3, "depth_multiplier": 2},
    {"type": "DepthwiseConv2D", "kernel_size": 3},
    {"type": "Cropping2D", "cropping": [1, 1]},
    {"type": "GroupNormalization", "groups": 4},
    {"type": "LeakyReLU"},
    {"type": "PReLU", "shared_axes": [1, 2]},
    {"type": "ELU"},
    {"type": "ReLU", "max_value": 6},
    {"type": "GaussianNoise", "stddev": 0.1},
    {"type": "GaussianDropout", "rate": 0.1},
    {"type": "AlphaDropout", "rate": 0.1},
    {"type": "GlobalAveragePooling2D"},
    {"type": "ActivityRegularization", "l2": 0.0001},
    {"type": "UnitNormalization"},
    {"type": "Dense", "units": 10},
    {"type": "Softmax"},
]


def images_keras(layers):
    return [
        layers.Rescaling(1.0), layers.RandomFlip("horizontal"), layers.RandomRotation(0.1),
        layers.RandomZoom(0.1), layers.RandomTranslation(0.1, 0.1), layers.RandomContrast(0.1),
        layers.Resizing(10, 10), layers.RandomCrop(9, 9), layers.Conv2DTranspose(4, 3),
        layers.SeparableConv2D(8, 3, depth_multiplier=2), layers.DepthwiseConv2D(3), layers.Cropping2D(1),
        layers.GroupNormalization(groups=4), layers.LeakyReLU(), layers.PReLU(shared_axes=[1, 2]),
        layers.ELU(), layers.ReLU(max_value=6), layers.GaussianNoise(0.1), layers.GaussianDropout(0.1),
        layers.AlphaDropout(0.1), layers.GlobalAveragePooling2D(), layers.ActivityRegularization(l2=1e-4),
        layers.UnitNormalization(), layers.Dense(10), layers.Softmax(),
    ]


SEQUENCES = [
    {"type": "Reshape", "target_shape": [8, 8]},
    {"type": "Masking"},
    {"type": "ZeroPadding1D", "padding": 2},
    {"type": "Cropping1D", "cropping": [1, 3]},
    {"type": "UpSampling1D", "size": 2},
    {"type": "SpatialDropout1D", "rate": 0.1},
    {"type": "TimeDistributed", "layer": {"type": "Dense", "units": 4}},
    {"type": "Permute", "dims": [2, 1]},
    {"type": "LSTM", "units": 8},
    {"type": "RepeatVector", "n": 3},
    {"type": "TimeDistributed", "layer": {"type": "Dense", "units": 5, "activation": "relu"}},
    {"type": "Flatten"},
    DENSE10,
]


def sequences_keras(layers):
    return [
        layers.Reshape((8, 8)), layers.Masking(), layers.ZeroPadding1D(2), layers.Cropping1D((1, 3)),
        layers.UpSampling1D(2), layers.SpatialDropout1D(0.1), layers.TimeDistributed(layers.Dense(4)),
        layers.Permute((2, 1)), layers.LSTM(8), layers.RepeatVector(3),
        layers.TimeDistributed(layers.Dense(5, activation="relu")), layers.Flatten(),
        layers.Dense(10, activation="softmax"),
    ]


VOLUMES = [
    {"type": "Reshape", "target_shape": [4, 4, 4, 1]},
    {"type": "Conv3D", "filters": 4, "kernel_size": 2, "padding": "same"},
    {"type": "ConvLSTM2D", "filters": 3, "kernel_size": [2, 2], "padding": "same", "return_sequences": True},
    {"type": "MaxPooling3D", "pool_size": 2},
    {"type": "AveragePooling3D", "pool_size": [1, 2, 2]},
    {"type": "TimeDistributed", "layer": {"type": "Conv2D", "filters": 2, "kernel_size": 1}},
    {"type": "Flatten"},
    DENSE10,
]


def volumes_keras(layers):
    return [
        layers.Reshape((4, 4, 4, 1)), layers.Conv3D(4, 2, padding="same"),
        layers.ConvLSTM2D(3, (2, 2), padding="same", return_sequences=True), layers.MaxPooling3D(2),
        layers.AveragePooling3D((1, 2, 2)), layers.TimeDistributed(layers.Conv2D(2, 1)), layers.Flatten(),
        layers.Dense(10, activation="softmax"),
    ]


@pytest.mark.parametrize("layers, keras_layers", [(IMAGES, images_keras), (SEQUENCES, sequences_keras),
                                                  (VOLUMES, volumes_keras)], ids=["images", "sequences", "volumes"])
def test_check_gives_keras_shapes_and_params(client, layers, keras_layers):
    r = client.post("/api/models/check", json=spec(MLP, model={"layers": layers}))
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    from webapp.modelspec.build import init_keras

    keras = init_keras()
    model = keras.Sequential([keras.Input((8, 8, 1)), *keras_layers(keras.layers)])
    want = [([None, *layer.output.shape[1:]], layer.count_params()) for layer in model.layers]
    assert [(row["output_shape"], row["params"]) for row in body["layers"]] == want
    assert body["total_params"] == model.count_params()
    assert body["warnings"] == []


@pytest.mark.parametrize("layer, field, words", [
    ({"type": "Permute", "dims": [1, 3]}, "dims", "must order the axes 1..3"),
    ({"type": "RepeatVector", "n": 2}, None, "needs 1-D input"),
    ({"type": "TimeDistributed", "layer": {"type": "Conv2D", "filters": 2, "kernel_size": 1}}, "layer",
     "applies Conv2D to each timestep of (8, 1)"),
    ({"type": "TimeDistributed", "layer": {"type": "TimeDistributed", "layer": {"type": "Dense"}}},
     "layer.type", "TimeDistributed wraps a layer of the catalog"),
    ({"type": "RandomCrop", "height": 6, "width": 6}, "type", "leaves images uncropped at evaluate"),
])
def test_new_layers_refuse_wrong_input_with_the_field(client, layer, field, words):
    r = client.post("/api/models/check", json=spec(MLP, model={"layers": [layer, {"type": "Flatten"}, DENSE10]}))
    assert r.status_code == 422
    error = r.get_json()["errors"][0]
    assert error["layer"] == 0 and error["field"] == field and words in error["message"], error


def test_a_model_of_new_layers_trains_and_reloads_as_keras(client, services):
    run_id = start(client, spec(MLP, name="augmented", model={"layers": IMAGES},
                                fit={"epochs": 1, "batch_size": 64, "validation": "test"}))
    run = wait_for(lambda: get(client, run_id))
    assert run["status"] == "completed", run["error"]
    from webapp.modelspec.build import init_keras

    keras = init_keras()
    model = keras.saving.load_model(services.data_dir / "runs" / str(run_id) / "model.keras")
    assert model.count_params() == run["summary"]["total_params"]
    assert [type(layer).__name__ for layer in model.layers] == [layer["type"] for layer in IMAGES]
