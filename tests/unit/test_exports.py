"""Exporting a spec: a train.py that runs and imports back to the same run, and Keras JSON."""

import ast
import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from PIL import Image

from tests.specs import CNN, MLP, spec
from webapp.datasets import BUILTIN, Registry, describe, folders, npz
from webapp.datasets.keras_cache import KERAS
from webapp.modelspec.exporters import keras_json, train_script
from webapp.modelspec.importers.imports import import_source
from webapp.modelspec.validate import SpecError, validate

DIGITS = describe("digits", BUILTIN["digits"])
CALLBACKS = {"checkpoint": {"monitor": "val_accuracy", "mode": "max"}, "early_stopping": {"patience": 2},
             "reduce_lr_on_plateau": True}
BI_LSTM = spec(MLP, name="bi-lstm", model={"layers": [
    {"type": "Reshape", "target_shape": [8, 8]},
    {"type": "Bidirectional", "layer": {"type": "LSTM", "units": 16, "return_sequences": True}, "merge_mode": "sum"},
    {"type": "GlobalAveragePooling1D"},
    {"type": "Dense", "units": 10, "activation": "softmax"},
]}, compile={"optimizer": {"type": "RMSprop", "learning_rate": 0.01}, "loss": "sparse_categorical_crossentropy",
             "metrics": ["accuracy"]},
    fit={"epochs": 3, "batch_size": 16, "validation": 0.1, "shuffle": False, "callbacks": CALLBACKS})
SPECS = {"mlp": MLP, "cnn": CNN, "bi-lstm": BI_LSTM}


def script_for(data, dataset=DIGITS):
    return train_script.python_script(validate(data, require_run=True), dataset)


@pytest.mark.parametrize("name", SPECS)
def test_python_export_imports_back_to_the_same_run(name):
    canonical = validate(SPECS[name]).to_dict()
    back = import_source("python", script_for(SPECS[name]))
    assert back["model"] == canonical["model"]
    assert back["compile"] == canonical["compile"]
    assert back["fit"] == canonical["fit"]
    assert all("input shape (8, 8, 1) ignored" in w for w in back["warnings"])


def test_script_writes_only_non_default_arguments():
    source = script_for(spec(CNN, fit={"epochs": 4, "callbacks": CALLBACKS}))
    assert "keras.layers.Conv2D(32, (3, 3), activation=\"relu\")," in source
    assert "keras.layers.MaxPooling2D((2, 2))," in source
    assert "keras.optimizers.Adadelta(learning_rate=1.0)" in source
    assert 'keras.callbacks.ModelCheckpoint("best.keras", monitor="val_accuracy", mode="max", save_best_only=True)' in source
    assert "keras.callbacks.EarlyStopping(patience=2, restore_best_weights=True)" in source
    assert "validation_data=(x_test, y_test)" in source
    assert 'parser.add_argument("--epochs", type=int, default=4' in source
    assert "predictions = np.argmax(model.predict(x_test, verbose=0), -1)" in source


def test_hostile_names_stay_inside_their_literals():
    checked = validate(MLP, require_run=True)
    checked.name = 'x"""\nimport os; os.system("echo hi")\n\'\'\'#'
    dataset = {"id": "up'\nload", "name": "evil\" + __import__('os').getcwd() + \"", "input_shape": [8, 8, 1],
               "num_classes": 10, "source": "upload"}
    source = train_script.python_script(checked, dataset)
    tree = ast.parse(source)
    constants = {node.targets[0].id: node.value.value for node in tree.body
                 if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)}
    assert constants["RUN_NAME"] == checked.name and constants["DATASET"] == dataset["id"]
    assert not any(isinstance(node, ast.Import) and node.names[0].name == "os" for node in tree.body)


@pytest.mark.parametrize("ds_id, expected", [
    ("mnist", "x_train = x_train[..., None] / 255.0"),
    ("fashion_mnist", "keras.datasets.fashion_mnist.load_data()"),
    ("cifar10", "x_train = x_train / 255.0\n"),
])
def test_keras_datasets_are_loaded_from_keras(ds_id, expected):
    dataset = {"id": ds_id, **KERAS[ds_id], "source": "keras"}
    source = train_script.python_script(validate(MLP, require_run=True), dataset)
    ast.parse(source)
    assert expected in source and "sklearn" not in source


@pytest.mark.parametrize("loss, line", [
    ("categorical_crossentropy", "y_train = keras.utils.to_categorical(y_train, num_classes)"),
    ("sparse_categorical_crossentropy", "# sparse_categorical_crossentropy takes the integer labels as they are."),
    ("binary_crossentropy", 'y_train = y_train.astype("float32").reshape(-1, 1)'),
])
def test_labels_are_encoded_for_the_loss(loss, line):
    source = script_for(spec(MLP, compile={"optimizer": "adam", "loss": loss, "metrics": ["accuracy"]}))
    assert line in source
    assert ("> 0.5" in source) == (loss == "binary_crossentropy")


def test_digits_are_split_as_the_dashboard_splits_them(tmp_path):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    scope = {"load_digits": load_digits, "train_test_split": train_test_split}
    exec("\n".join(train_script.data_source(DIGITS)), scope)   # the exporter's own lines, not user code
    data = Registry(str(tmp_path)).load("digits")
    assert np.array_equal(scope["y_train"], data.y_train) and np.array_equal(scope["y_test"], data.y_test)
    assert np.allclose(scope["x_train"], data.x_train / data.pixel_max)
    assert scope["x_test"].shape == (360, 8, 8, 1)


# ---- with Keras --------------------------------------------------------------------------------

@pytest.mark.keras
@pytest.mark.parametrize("name", SPECS)
def test_keras_json_export_imports_back_to_the_same_model(name):
    checked = validate(SPECS[name])
    source = keras_json.keras_json(checked, [8, 8, 1])
    assert json.loads(source)["compile_config"]["loss"] == checked.compile["loss"]
    back = import_source("keras_json", source)
    assert back["model"] == checked.to_dict()["model"]
    assert back["compile"] == checked.compile
    assert back["warnings"] == ["input shape (8, 8, 1) ignored: the dataset gives the input shape"]


@pytest.mark.keras
def test_keras_json_of_a_text_model_imports_back_to_the_same_model_with_its_string_input():
    layers = [{"type": "TextVectorization", "max_tokens": 500, "output_sequence_length": 20, "ngrams": 2},
              {"type": "Embedding", "input_dim": 500, "output_dim": 8}, {"type": "GlobalAveragePooling1D"},
              {"type": "Dense", "units": 1, "activation": "sigmoid"}]
    checked = validate(spec(MLP, model={"layers": layers}, compile={"optimizer": "adam", "loss": "binary_crossentropy",
                                                                     "metrics": ["accuracy"]}))
    source = keras_json.keras_json(checked, [])
    assert json.loads(source)["config"]["layers"][0]["config"]["dtype"] == "string"
    back = import_source("keras_json", source)
    assert back["model"] == checked.to_dict()["model"]
    assert back["warnings"] == ["input shape () ignored: the dataset gives the input shape"]


@pytest.mark.keras
def test_keras_json_import_refuses_a_real_lambda_and_notes_a_regularizer():
    from webapp.modelspec.build import init_keras

    keras = init_keras()
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(10, kernel_regularizer="l2")])
    out = import_source("keras_json", model.to_json())
    assert "layer 1 (Dense): kernel_regularizer = L2 is not part of the spec; ignored" in out["warnings"]
    model.add(keras.layers.Lambda(lambda x: x * 2))
    with pytest.raises(SpecError) as info:
        import_source("keras_json", model.to_json())
    assert info.value.errors[0].layer == 2 and "Lambda" in info.value.errors[0].message


def run_script(source, cwd, *args):
    (cwd / "train.py").write_text(source)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, "train.py", "--epochs", "1", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def load(path):
    from webapp.modelspec.build import init_keras

    return init_keras().saving.load_model(path)


@pytest.mark.keras
def test_exported_script_trains_on_digits(tmp_path):
    out = run_script(script_for(spec(MLP, fit={"epochs": 30, "batch_size": 64, "callbacks": CALLBACKS})), tmp_path)
    assert "Test accuracy from the predictions:" in out
    assert "Epochs trained: 1\n" in out          # --epochs overrode the run's 30
    model = load(tmp_path / "model.keras")
    assert model.predict(np.zeros((2, 8, 8, 1)), verbose=0).shape == (2, 10)
    assert (tmp_path / "best.keras").exists()


def folder_dataset(tmp_path, root, paths):
    """Give the description of a dataset built as the server builds it from tmp_path/root holding `paths`.

    Each is a random 6×5 grayscale PNG, stored in the zip in the order given.
    """
    rng, archive = np.random.default_rng(0), tmp_path / f"{root}.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for file in paths:
            path = tmp_path / root / file
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, (6, 5), dtype=np.uint8)).save(path)
            z.write(path, f"{root}/{file}")
    arrays, names, _, facts = folders.ingest(archive, "zip", folders.Options(), {"max_images": 100, "max_bytes": 2**20})
    npz.save(tmp_path, f"{root}-1", arrays)
    return {"id": f"{root}-1", "name": root, "input_shape": [6, 5, 1], "num_classes": len(names), "class_names": names,
            "pixel_max": 255.0, "source": "upload", "provenance": {"format": "zip", "archive": f"{root}.zip",
                                                                  "options": folders.Options().to_dict(), "facts": facts}}


# 3 classes, one with a subfolder; the zip holds them in reverse, and in b/, extra/z.png sorts
# before y.png though os.walk gives y.png first.
PETS = [f"{name}/{file}" for name in "cab"
        for file in reversed([f"{i}.png" for i in range(6)] + (["extra/z.png", "y.png"] if name == "b" else []))]
# The archive's own split: train/<class>/ and test/<class>/.
SPLIT = [f"{part}/{name}/{i}.png" for part, n in (("train", 4), ("test", 2)) for name in "ab" for i in range(n)]


@pytest.mark.keras
def test_exported_scripts_train_on_an_uploaded_npz_and_on_an_unpacked_folder_as_the_server_split_it(tmp_path):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 60)
    np.savez(tmp_path / "up1.npz", x_train=rng.integers(0, 256, (48, 6, 6), dtype=np.uint8),
             y_train=np.eye(3)[labels[:48]], x_test=rng.integers(0, 256, (12, 6, 6), dtype=np.uint8),
             y_test=np.eye(3)[labels[48:]])
    uploaded = {"id": "up1", "name": "tiny", "input_shape": [6, 6, 1], "num_classes": 3, "pixel_max": 255,
                "source": "upload"}
    pets, split = folder_dataset(tmp_path, "pets", PETS), folder_dataset(tmp_path, "ab", SPLIT)
    assert split["provenance"]["facts"]["given_split"]
    runs = {"npz": (uploaded, []), "folder": (pets, []), "folder_npz": (pets, ["--data", "pets-1.npz"]),
            "split": (split, [])}
    runner = ["import os, runpy, sys", "import numpy as np", f"os.chdir({str(tmp_path)!r})"]
    for name, (dataset, args) in runs.items():
        model = {"layers": [{"type": "Flatten"}, {"type": "Dense", "units": dataset["num_classes"],
                                                  "activation": "softmax"}]}
        data = spec(MLP, dataset=dataset["id"], model=model, fit={"epochs": 2, "batch_size": 16, "validation": 0.25},
                    compile={"optimizer": "adam", "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]})
        (tmp_path / f"{name}.py").write_text(train_script.python_script(validate(data, require_run=True), dataset))
        runner += [f"sys.argv = ['train.py', '--epochs', '1', *{args!r}]",
                   f"g = runpy.run_path({name + '.py'!r}, run_name='__main__')",
                   f"np.savez({name + '.loaded.npz'!r}, **{{k: g[k] for k in ('x_train', 'y_train', 'x_test', 'y_test')}})"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, "-c", "\n".join(runner)], env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("Test accuracy from the predictions:") == 4
    assert load(tmp_path / "model.keras").output_shape == (None, 2)   # the last script's: the split archive's 2 classes
    with np.load(tmp_path / "pets-1.npz") as server:
        assert server["y_test"].tolist().count(1) == 2 and len(server["y_train"]) == 16   # b: 8 images, 2 to test
    with np.load(tmp_path / "folder_npz.loaded.npz") as npz_read, np.load(tmp_path / "folder.loaded.npz") as keras_read:
        assert all(np.allclose(npz_read[key], keras_read[key]) for key in npz_read)
    for script, ds_id in (("folder", "pets-1"), ("split", "ab-1")):   # Keras read the folder as the server did
        with np.load(tmp_path / f"{ds_id}.npz") as server, np.load(tmp_path / f"{script}.loaded.npz") as keras_read:
            for key in ("x_train", "x_test"):
                assert np.allclose(keras_read[key], server[key][..., None] / 255.0 if server[key].ndim == 3
                                   else server[key] / 255.0)
            for key in ("y_train", "y_test"):
                assert keras_read[key].tolist() == server[key].tolist()
    with np.load(tmp_path / "ab-1.npz") as server:
        assert server["y_train"].tolist() == [0] * 4 + [1] * 4 and server["y_test"].tolist() == [0, 0, 1, 1]


def text_and_series_datasets(tmp_path):
    """Give the descriptions of a text folder (unpacked beside its zip) and a UCR .tsv built as the server builds them,
    with the arrays the server stored."""
    from webapp.datasets import series, texts

    limits = {"max_texts": 100, "max_text_bytes": 2**20, "max_bytes": 2**20, "max_images": 100}
    archive = tmp_path / "reviews.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for i, (label, word) in enumerate([("neg", "awful"), ("pos", "superb")] * 8):
            # in reverse of Keras's order; Keras takes a/ after the files beside it, though "a/" < "t"
            path = tmp_path / "reviews" / label / ("a" if i % 3 == 0 else "") / f"t{15 - i:02d}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"a {word} film, number {i} é")
            z.write(path, str(path.relative_to(tmp_path)))
    arrays, names, _, facts = texts.ingest(archive, "zip", folders.Options(), limits)
    npz.save(tmp_path, "reviews-1", {k: arrays[k] for k in texts.KEYS})
    text = {"id": "reviews-1", "name": "reviews", "kind": "text", "input_shape": [], "num_classes": 2,
            "class_names": names, "pixel_max": 1.0, "source": "upload",
            "provenance": {"format": "zip", "archive": "reviews.zip", "options": folders.Options().to_dict(),
                           "facts": facts}}
    rng = np.random.default_rng(0)
    (tmp_path / "Ramps_TRAIN.tsv").write_text("".join(
        "\t".join([str(2 * (i % 2) - 1)] + [f"{v:.3f}" for v in rng.normal(size=12)]) + "\n" for i in range(20)))
    arrays_s, names_s, _, facts_s = series.ingest(tmp_path / "Ramps_TRAIN.tsv", "tsv", folders.Options(),
                                                  limits, name="Ramps_TRAIN.tsv")
    np.savez(tmp_path / "ramps-1.npz", **arrays_s)
    ramps = {"id": "ramps-1", "name": "ramps", "kind": "series", "input_shape": [12, 1], "num_classes": 2,
             "class_names": names_s, "pixel_max": 1.0, "source": "upload",
             "provenance": {"format": "tsv", "archive": "Ramps_TRAIN.tsv", "options": folders.Options().to_dict(),
                            "facts": facts_s}}
    return text, ramps, texts.load(tmp_path / "reviews-1.npz")


@pytest.mark.keras
def test_exported_scripts_read_a_text_folder_and_a_ucr_file_as_the_server_did_and_train(tmp_path):
    text, ramps, stored_text = text_and_series_datasets(tmp_path)
    models = {"text": [{"type": "TextVectorization", "max_tokens": 50, "output_sequence_length": 8},
                       {"type": "Embedding", "input_dim": 50, "output_dim": 4}, {"type": "GlobalAveragePooling1D"},
                       {"type": "Dense", "units": 2, "activation": "softmax"}],
              "series": [{"type": "Conv1D", "filters": 4, "kernel_size": 3}, {"type": "GlobalAveragePooling1D"},
                         {"type": "Dense", "units": 2, "activation": "softmax"}]}
    runner = ["import os, runpy, sys", "import numpy as np", f"os.chdir({str(tmp_path)!r})"]
    for name, dataset in (("text", text), ("series", ramps)):
        data = spec(MLP, dataset=dataset["id"], model={"layers": models[name]},
                    fit={"epochs": 2, "batch_size": 4, "validation": 0.25},
                    compile={"optimizer": "adam", "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]})
        source = train_script.python_script(validate(data, require_run=True), dataset)
        assert ("text_dataset_from_directory" in source and "layer.adapt(x_train[:int(len(x_train) * 0.75)], batch_size=256)" in source
                if name == "text" else 'np.loadtxt(filename, delimiter="\\t"' in source)
        (tmp_path / f"{name}.py").write_text(source)
        runner += ["sys.argv = ['train.py', '--epochs', '1']",
                   f"g = runpy.run_path({name + '.py'!r}, run_name='__main__')",
                   f"np.savez({name + '.loaded.npz'!r}, **{{k: np.asarray(g[k], str if {name == 'text'} and "
                   f"k[0] == 'x' else None) for k in ('x_train', 'y_train', 'x_test', 'y_test')}})"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, "-c", "\n".join(runner)], env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("Test accuracy from the predictions:") == 2
    with np.load(tmp_path / "text.loaded.npz") as read:   # Keras read the folder as the server did
        assert [read[k].tolist() for k in ("x_train", "y_train", "x_test", "y_test")] == [
            list(a) if a.dtype == object else a.tolist() for a in stored_text]
    with np.load(tmp_path / "series.loaded.npz") as read, np.load(tmp_path / "ramps-1.npz") as server:
        assert all(np.allclose(read[k], server[k]) for k in server.files)


def test_a_backbone_exports_as_the_keras_guide_writes_it_and_builds_the_dashboards_model():
    from webapp.modelspec import build

    body = spec(MLP, name="transfer", model={"layers": [
        {"type": "MobileNetV2", "alpha": 0.35, "input_shape": [96, 96, 3], "weights": None, "pooling": "avg"},
        {"type": "Dense", "units": 10, "activation": "softmax"}]},
        fit={"epochs": 1, "batch_size": 8, "fine_tune": {"epochs": 2, "unfreeze": 20, "learning_rate": 1e-5}})
    checked = validate(body, require_run=True)
    source = train_script.python_script(checked, DIGITS)
    ast.parse(source)
    assert "mobile_net_v2 = keras.applications.MobileNetV2(include_top=False, weights=None" in source
    assert "mobile_net_v2.trainable = False" in source and "for layer in mobile_net_v2.layers[:-20]:" in source
    assert "isinstance(layer, keras.layers.BatchNormalization)" in source
    assert "keras.optimizers.Adam(learning_rate=1e-05)" in source and "initial_epoch=first_epochs" in source
    # The model part, run in plain Keras, is the model the dashboard builds: same layers, same parameters.
    part = source[source.index("# keras.applications"):source.index("model.summary()")]
    keras = build.init_keras()
    scope = {"keras": keras, "np": np}
    exec(compile(part, "train.py", "exec"), scope)
    ours = build.build_model(checked, DIGITS["input_shape"])
    # (the Dense's name is Keras's own counter's, which other tests in this process move on)
    assert [(type(layer).__name__, layer.name.startswith("mobile_net_v2")) for layer in scope["model"].layers] == \
        [(type(layer).__name__, layer.name.startswith("mobile_net_v2")) for layer in ours.layers]
    assert scope["model"].count_params() == ours.count_params()
    assert [layer.trainable for layer in scope["model"].layers] == [layer.trainable for layer in ours.layers]


@pytest.mark.keras
def test_keras_json_of_an_imdb_lstm_imports_back_to_the_same_model():
    from tests.specs import IMDB_LSTM

    checked = validate(IMDB_LSTM)
    back = import_source("keras_json", keras_json.keras_json(checked, [60]))
    assert back["model"] == checked.to_dict()["model"] and back["compile"] == checked.compile
    assert back["warnings"] == ["input shape (60,) ignored: the dataset gives the input shape"]


@pytest.mark.keras
def test_exported_scripts_load_imdb_and_reuters_as_the_dashboard_did(tmp_path, monkeypatch):
    """train.py loads a trimmed Keras cache with load_data, pads or makes the bag of words, and trains; the
    arrays are the registry's for the same dataset_options."""
    from tests.keras_cache import write_imdb, write_reuters
    from tests.specs import IMDB_LSTM, REUTERS_MLP

    home = tmp_path / "keras"
    monkeypatch.setenv("KERAS_HOME", str(home))
    write_imdb(home / "datasets", n_train=40, n_test=20)
    write_reuters(home / "datasets", n=50)
    registry = Registry(str(tmp_path / "data"))
    imdb_options = {"num_words": 300, "maxlen": 30, "skip_top": 2, "filter_maxlen": 58}
    pooled = {"layers": [{"type": "Embedding", "input_dim": 300, "output_dim": 8}, {"type": "GlobalAveragePooling1D"},
                         {"type": "Dense", "units": 1, "activation": "sigmoid"}]}
    runs = {"imdb": (spec(IMDB_LSTM, dataset_options=imdb_options, model=pooled), imdb_options),
            "reuters": (REUTERS_MLP, REUTERS_MLP["dataset_options"])}
    # Keras checks the real files' hashes and would download them again: the runner accepts the trimmed ones.
    runner = ["import os, runpy, sys", "import numpy as np", "import keras.src.utils.file_utils as file_utils",
              "file_utils.validate_file = lambda *args, **kwargs: True", f"os.chdir({str(tmp_path)!r})"]
    for name, (data, options) in runs.items():
        dataset = registry.info(data["dataset"], options)
        source = train_script.python_script(validate(data, require_run=True), dataset)
        assert "keras.utils.pad_sequences" in source or "sequences_to_matrix" in source
        (tmp_path / f"{name}.py").write_text(source)
        runner += ["sys.argv = ['train.py', '--epochs', '1']",
                   f"g = runpy.run_path({name + '.py'!r}, run_name='__main__')",
                   f"np.savez({name + '.loaded.npz'!r}, **{{k: g[k] for k in ('x_train', 'x_test', 'labels_test')}})"]
    assert "load_data(num_words=300, skip_top=2, maxlen=58)" in (tmp_path / "imdb.py").read_text()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, "-c", "\n".join(runner)], env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("Test accuracy from the predictions:") == 2
    for name, (data, options) in runs.items():
        server = registry.load(data["dataset"], options)
        with np.load(tmp_path / f"{name}.loaded.npz") as keras_read:
            assert np.array_equal(keras_read["x_train"], server.x_train), name
            assert np.array_equal(keras_read["x_test"], server.x_test), name
            assert keras_read["labels_test"].tolist() == server.y_test.tolist(), name
