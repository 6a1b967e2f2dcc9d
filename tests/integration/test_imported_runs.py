"""A pasted Keras 2 script, imported and trained: its decay becomes a schedule, its predict step the gallery."""

import textwrap

import pytest

from tests.integration.runs_helpers import get, start, tiny_images, wait_for

SCRIPT = textwrap.dedent('''
    import keras
    from keras.models import Sequential
    from keras.layers.core import Dense, Flatten
    model = Sequential()
    model.add(Flatten(input_shape=(8, 8, 1)))
    model.add(Dense(32, activation='relu'))
    model.add(Dense(10, activation='softmax'))
    model.compile(loss='categorical_crossentropy', optimizer=keras.optimizers.SGD(lr=0.1, decay=0.01),
                  metrics=['acc'])
    model.fit(x_train, y_train, batch_size=128, nb_epoch=2, validation_data=(x_test, y_test))
    print(model.predict_classes(x_test[3:7]))
''')


def test_an_imported_script_trains_with_its_decay_and_opens_the_gallery_on_its_predict_step(client):
    answer = client.post("/api/models/import", json={"format": "python", "source": SCRIPT}).get_json()
    assert answer["compile"]["optimizer"]["schedule"] == {"type": "InverseTimeDecay", "decay_steps": 1,
                                                          "decay_rate": 0.01, "staircase": False}
    assert answer["predict"] == {"indexes": [3, 4, 5, 6]} and answer["fit"]["epochs"] == 2
    run_id = start(client, {"name": "imported", "dataset": "digits", **{k: answer[k] for k in
                                                                         ("model", "compile", "fit", "predict")}})
    run = wait_for(lambda: get(client, run_id))
    assert run["status"] == "completed", run["error"]
    assert run["spec"]["predict"] == {"indexes": [3, 4, 5, 6]}
    # Keras 2's decay: lr / (1 + decay * iterations); 1437 digits in batches of 128 are 12 steps an epoch.
    assert run["history"]["learning_rate"] == pytest.approx([0.1 / (1 + 0.01 * 12), 0.1 / (1 + 0.01 * 24)], rel=1e-4)
    page = client.get(f"/api/runs/{run_id}/predictions?indexes=3,4,5,6").get_json()
    assert [item["index"] for item in page["items"]] == [3, 4, 5, 6] and page["total"] == 4
    html = client.get(f"/runs/{run_id}").get_data(as_text=True)
    assert f'href="/runs/{run_id}/gallery?indexes=3,4,5,6"' in html and "Predict step: test images 3, 4, 5, 6" in html
    script = client.get(f"/api/runs/{run_id}/artifacts/train.py").get_data(as_text=True)
    assert "keras.optimizers.schedules.InverseTimeDecay(initial_learning_rate=0.1, decay_steps=1, decay_rate=0.01)" in script
    assert "predicted = np.argmax(model.predict(x_test[3:7], verbose=0), -1)" in script


# Keras 1's examples/imdb_lstm.py as it was written (nb_words, dropout_W/dropout_U, nb_epoch).
KERAS1_IMDB_LSTM = textwrap.dedent('''
    from __future__ import print_function
    import numpy as np
    np.random.seed(1337)  # for reproducibility

    from keras.preprocessing import sequence
    from keras.models import Sequential
    from keras.layers.core import Dense, Dropout, Activation
    from keras.layers.embeddings import Embedding
    from keras.layers.recurrent import LSTM
    from keras.datasets import imdb

    max_features = 20000
    maxlen = 80  # cut texts after this number of words (among top max_features most common words)
    batch_size = 32

    print('Loading data...')
    (X_train, y_train), (X_test, y_test) = imdb.load_data(nb_words=max_features)
    print(len(X_train), 'train sequences')
    X_train = sequence.pad_sequences(X_train, maxlen=maxlen)
    X_test = sequence.pad_sequences(X_test, maxlen=maxlen)

    print('Build model...')
    model = Sequential()
    model.add(Embedding(max_features, 128, dropout=0.2))
    model.add(LSTM(128, dropout_W=0.2, dropout_U=0.2))  # try using a GRU instead, for fun
    model.add(Dense(1))
    model.add(Activation('sigmoid'))

    model.compile(loss='binary_crossentropy', optimizer='adam', metrics=['accuracy'])
    model.fit(X_train, y_train, batch_size=batch_size, nb_epoch=15, validation_data=(X_test, y_test))
    score, acc = model.evaluate(X_test, y_test, batch_size=batch_size)
''')


def test_keras1_imdb_lstm_pasted_as_written_trains_on_the_cached_imdb_and_shows_its_reviews(client, tmp_path,
                                                                                           monkeypatch):
    """Keras 1's imdb_lstm.py: its data comes over, it trains well, the gallery and inside view read the words."""
    from tests.keras_cache import write_imdb

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))   # the spawned trainer inherits it
    write_imdb(tmp_path / "keras" / "datasets", n_train=400, n_test=200, length=40)
    answer = client.post("/api/models/import", json={"format": "python", "source": KERAS1_IMDB_LSTM}).get_json()
    assert answer["dataset"] == {"id": "imdb", "options": {"num_words": 20000, "maxlen": 80}}, answer
    notes = {(n["line"], n["was"].split("(")[0]) for n in answer["notes"]}
    assert any("nb_words" in n["was"] for n in answer["notes"]), notes
    lstm = next(layer for layer in answer["model"]["layers"] if layer["type"] == "LSTM")
    assert lstm["dropout"] == 0.2 and lstm["recurrent_dropout"] == 0.2
    assert answer["fit"]["epochs"] == 15
    spec = {"name": "imdb_lstm", "dataset": answer["dataset"]["id"], "dataset_options": answer["dataset"]["options"],
            **{k: answer[k] for k in ("model", "compile")}, "fit": {**answer["fit"], "epochs": 2}}
    run_id = start(client, spec)
    run = wait_for(lambda: get(client, run_id), timeout=240)
    assert run["status"] == "completed", run["error"]
    assert run["history"]["val_accuracy"][-1] >= 0.9, run["history"]
    page = client.get(f"/api/runs/{run_id}/predictions?limit=20").get_json()
    for item in page["items"]:
        assert item["image_url"] is None
        assert ("great" if item["true"] == 1 else "awful") in item["text"].split(), item["text"]
    right = [item for item in page["items"] if item["true"] == item["predicted"]]
    for item in right[:3]:
        view = client.get(f"/api/runs/{run_id}/inside/{item['index']}").get_json()
        top = max(view["tokens"], key=lambda t: t["attribution"])
        assert top["token"] == ("great" if item["predicted"] == 1 else "awful"), view["tokens"]
    r = client.post(f"/api/runs/{run_id}/exports", json={"format": "onnx"})   # they feed images: said, not tried
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "format"


# The Keras transfer-learning guide's two phases on a small MobileNetV2: a frozen base and a new head, then
# (as keras-io's fine-tuning examples do) the base's top layers unfrozen and trained again at another rate.
FINE_TUNING = textwrap.dedent('''
    import keras
    from keras import layers

    base_model = keras.applications.MobileNetV2(
        weights="imagenet", input_shape=(96, 96, 3), alpha=0.35, include_top=False)
    base_model.trainable = False

    inputs = keras.Input(shape=(96, 96, 3))
    scale_layer = keras.layers.Rescaling(scale=1 / 127.5, offset=-1)
    x = scale_layer(inputs)
    x = base_model(x, training=False)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(0.2)(x)
    outputs = keras.layers.Dense(2, activation="softmax")(x)
    model = keras.Model(inputs, outputs)

    model.compile(optimizer=keras.optimizers.Adam(), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(train_ds, epochs=1, validation_data=validation_ds)

    for layer in base_model.layers[-10:]:
        layer.trainable = True
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(train_ds, epochs=1, validation_data=validation_ds)
''')


def test_a_pasted_two_phase_fine_tuning_script_imports_with_notes_and_trains_both_phases(client, services, tmp_path,
                                                                                        monkeypatch):
    """One backbone layer and fit.fine_tune; the run trains the head on the cached file's weights, then only the
    backbone's top 10 layers, every BatchNormalization's statistics kept."""
    import numpy as np

    from tests.keras_cache import write_application_weights
    from webapp.modelspec.build import init_keras
    from webapp.runs import paths

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))   # the trainer process inherits it
    answer = client.post("/api/models/import", json={"format": "python", "source": FINE_TUNING}).get_json()
    backbone = answer["model"]["layers"][0]
    assert (backbone["type"], backbone["weights"], backbone["alpha"], backbone["input_shape"], backbone["trainable"]) \
        == ("MobileNetV2", "imagenet", 0.35, [96, 96, 3], False), answer["model"]
    assert "Rescaling" not in [layer["type"] for layer in answer["model"]["layers"]]   # the dashboard adds it
    assert answer["fit"]["fine_tune"] == {"epochs": 1, "unfreeze": 10, "learning_rate": 0.01}, answer["fit"]
    noted = " ".join(f"{n['was']} {n['why']}" for n in answer["notes"])
    assert "Rescaling" in noted and "trainable" in noted, answer["notes"]
    body = {"name": "fine-tuned", "dataset": tiny_images(client), **{k: answer[k] for k in ("model", "compile")},
            "fit": {**answer["fit"], "batch_size": 8, "validation": "none", "dynamics": False}}
    r = client.post("/api/runs", json=body)   # offline, and not in Keras's cache: refused before any run
    error = r.get_json()["errors"][0]
    assert r.status_code == 422 and (error["layer"], error["field"]) == (0, "weights")
    assert "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5" in error["message"]
    assert str(tmp_path / "keras" / "models") in error["message"]

    _, written = write_application_weights(tmp_path / "keras" / "models", "MobileNetV2", {"alpha": 0.35}, 96)
    run_id = start(client, body)
    run = wait_for(lambda: get(client, run_id), timeout=240)
    assert run["status"] == "completed", run["error"]
    assert run["epochs_done"] == 2 and len(run["history"]["loss"]) == 2
    assert [(p["epoch"], p["unfreeze"], p["learning_rate"]) for p in run["phases"]] == [(1, 10, 0.01)]
    added = [row for row in run["summary"]["layers"] if row.get("added")]
    assert [row["type"] for row in added] == ["Resizing", "Conv2D", "Rescaling"] and all(row["note"] for row in added)
    keras = init_keras()
    model = keras.saving.load_model(paths.artifact(services.data_dir, run_id, paths.MODEL), safe_mode=True)
    block = model.get_layer("mobile_net_v2")   # plain Keras loads it, no custom objects
    top = {layer.name for layer in block.layers[-10:]}
    kept = iter(written)   # the file's weights, in get_weights order
    for layer in block.layers:
        same = all(np.array_equal(next(kept), w.numpy()) for w in layer.weights)
        if isinstance(layer, keras.layers.BatchNormalization):
            assert same and not layer.trainable, layer.name   # moving statistics and scale kept, everywhere
        elif layer.weights:
            assert same == (layer.name not in top), layer.name   # only the unfrozen top layers learned
    assert any(layer.name in top and layer.weights and not isinstance(layer, keras.layers.BatchNormalization)
               for layer in block.layers)
    # The gallery and the inside view (Grad-CAM included) work on it as on any other model.
    assert client.get(f"/api/runs/{run_id}/predictions?limit=4").get_json()["total"] == 4
    view = client.get(f"/api/runs/{run_id}/inside/0")
    assert view.status_code == 200 and "mobile_net_v2" in {row["name"] for row in view.get_json()["layers"]}
    cam = client.get(f"/api/runs/{run_id}/inside/0/saliency.png")
    assert cam.status_code == 200 and cam.content_type == "image/png"
