"""A pasted Keras 2 script, imported and trained: its decay becomes a schedule, its predict step the gallery."""

import textwrap

import pytest

from tests.integration.runs_helpers import get, start, wait_for

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
