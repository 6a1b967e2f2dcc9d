"""Keras scripts of every generation (tests/fixtures/keras_scripts/), imported: the exact spec and notes.

Each fixture is a script written for this project in the idioms of its Keras (1.x, 2.x, tf.keras,
3); `expected/NAME.json` is the import answer it must give, reviewed by hand. The round trip
exports each answer as train.py and runs them all with Keras 3 in one process.
"""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from webapp.modelspec.exporters import train_script
from webapp.modelspec.importers.imports import import_source
from webapp.modelspec.validate import SpecError, validate

HERE = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "keras_scripts"
FIXTURES = sorted(p.stem for p in HERE.glob("*.py"))
# The dataset each fixture's round trip trains on: (input shape, classes).
DATASETS = {"keras1_lstm_text": ([40], 2), "keras2_seq2seq": ([8, 8], 10), "keras1_imdb_cnn": ([40], 2),
            "keras2_reuters_mlp": ([1000], 46), "keras2_imdb_fasttext": ([60], 2)}
IMAGES = ([8, 8, 1], 10)
# Fine-tuning scripts: their backbone layer and fit.fine_tune train where the backbones work builds
# them (keras.applications in build.py, the continue in the runner); here their answers are checked.
BACKBONE_FIXTURES = {"keras3_transfer_xception", "keras3_efficientnet_finetune", "keras2_inceptionv3_finetune"}
# A model on texts starts with TextVectorization, adapted on a text folder: its exported train.py reads a
# folder (tests/unit/test_exports.py runs such a script; tests/integration/test_folder_datasets.py trains one).
TEXT_FIXTURES = {"keras3_text_folder"}


def imported(name, **options):
    return import_source("python", (HERE / f"{name}.py").read_text(), **options)


def test_every_fixture_is_tested():
    assert set(FIXTURES) == {p.stem for p in (HERE / "expected").glob("*.json")}
    assert len(FIXTURES) >= 8


@pytest.mark.parametrize("name", FIXTURES)
def test_fixture_imports_to_the_exact_spec_and_notes(name):
    expected = json.loads((HERE / "expected" / f"{name}.json").read_text())
    assert imported(name) == expected


def note(answer, field):
    return [n for n in answer["notes"] if n.get("field") == field]


def test_the_seed_script_imports_as_its_keras_trained_it():
    out = imported("seed_mnist")
    assert [layer["type"] for layer in out["model"]["layers"]] == [
        "Conv2D", "Conv2D", "MaxPooling2D", "Dropout", "Flatten", "Dense", "Dropout", "Dense"]
    assert out["compile"]["optimizer"]["type"] == "Adadelta" and out["compile"]["optimizer"]["learning_rate"] == 1.0
    assert (out["fit"]["epochs"], out["fit"]["batch_size"], out["fit"]["validation"]) == (4, 128, "test")
    assert out["fit"]["callbacks"]["checkpoint"] == {"monitor": "val_accuracy", "mode": "max", "save_best_only": True}
    assert out["predict"] == {"indexes": list(range(10, 20))}
    assert out["keras_version"]["used"] == "keras2"
    [rate] = note(out, "compile.optimizer.learning_rate")
    assert rate["line"] == 33 and rate["now"] == "Adadelta(learning_rate=1.0)" and "0.001" in rate["why"]
    [monitor] = note(out, "fit.callbacks.checkpoint.monitor")
    assert (monitor["was"], monitor["now"]) == ("monitor='val_acc'", "monitor='val_accuracy'")


def test_the_keras_version_can_be_switched():
    out = imported("seed_mnist", keras_version="keras3")
    assert out["compile"]["optimizer"]["learning_rate"] == 0.001
    assert out["keras_version"] == {**out["keras_version"], "detected": "keras2", "used": "keras3"}
    assert "chosen by you" in out["notes"][0]["why"] and not note(out, "compile.optimizer.learning_rate")
    with pytest.raises(SpecError) as info:
        imported("seed_mnist", keras_version="keras4")
    assert info.value.errors[0].field == "keras_version"


def upload(name):
    shape, classes = DATASETS.get(name, IMAGES)
    return {"id": name, "name": name, "input_shape": shape, "num_classes": classes, "pixel_max": 1,
            "source": "upload"}


def write_data(folder, dataset):
    rng = np.random.default_rng(0)
    shape, classes = dataset["input_shape"], dataset["num_classes"]
    def x(n):
        return rng.integers(0, 100, (n, *shape)) if len(shape) == 1 else rng.random((n, *shape)).astype("float32")
    np.savez(folder / "data.npz", x_train=x(64), y_train=rng.integers(0, classes, 64),
             x_test=x(24), y_test=rng.integers(0, classes, 24))


# Runs every exported train.py in one process, recording what each passes to compile and fit.
RUNNER = r'''
import json, os, runpy, sys
import keras
record, fit = {}, keras.Model.fit
def recording_fit(self, *args, **kwargs):
    rate = self.optimizer.get_config()["learning_rate"]
    record.update(params=self.count_params(), optimizer=type(self.optimizer).__name__,
                  learning_rate=rate.get("config", rate) if isinstance(rate, dict) else rate,
                  loss=self.loss, metrics=[str(m) for m in self.get_compile_config()["metrics"]],
                  epochs=kwargs["epochs"], batch_size=kwargs["batch_size"],
                  validation="test" if "validation_data" in kwargs else kwargs.get("validation_split", "none"),
                  shuffle=kwargs.get("shuffle", True),
                  callbacks={type(c).__name__: getattr(c, "monitor", None) for c in kwargs["callbacks"]})
    kwargs["epochs"] = 1
    return fit(self, *args, **kwargs)
keras.Model.fit = recording_fit
out = {}
for folder in sys.argv[1:]:
    os.chdir(folder)
    record.clear()
    sys.argv = ["train.py", "--data", "data.npz"]
    runpy.run_path("train.py", run_name="__main__")
    out[os.path.basename(folder)] = dict(record)
print("RESULT " + json.dumps(out))
'''


def expected_run(answer, total_params):
    optimizer = answer["compile"]["optimizer"]
    schedule = optimizer.get("schedule")
    rate = ({"initial_learning_rate": optimizer["learning_rate"], "decay_steps": schedule["decay_steps"],
             "decay_rate": schedule["decay_rate"], "staircase": schedule["staircase"], "name": "InverseTimeDecay"}
            if schedule else optimizer["learning_rate"])
    fit = answer["fit"]
    names = {"checkpoint": "ModelCheckpoint", "early_stopping": "EarlyStopping",
             "reduce_lr_on_plateau": "ReduceLROnPlateau"}
    callbacks = {names[k]: v["monitor"] for k, v in fit["callbacks"].items() if v}
    return {"params": total_params, "optimizer": optimizer["type"], "learning_rate": rate,
            "loss": answer["compile"]["loss"], "metrics": answer["compile"]["metrics"], "epochs": fit["epochs"],
            "batch_size": fit["batch_size"], "validation": fit["validation"], "shuffle": fit["shuffle"],
            "callbacks": {**callbacks, "TerminateOnNaN": None}}


@pytest.mark.keras
def test_round_trip_every_fixture_trains_with_keras_3_as_imported(tmp_path):
    from webapp.modelspec import build

    want, folders = {}, []
    names = [n for n in FIXTURES if n not in BACKBONE_FIXTURES | TEXT_FIXTURES]
    for name in names:
        answer, dataset = imported(name), upload(name)
        spec = validate({"name": name, "dataset": name, **{k: answer[k] for k in ("model", "compile", "fit")},
                         "predict": answer.get("predict")}, require_run=True)
        want[name] = expected_run(answer, build.summarize(spec, dataset)["total_params"])
        folder = tmp_path / name
        folder.mkdir()
        (folder / "train.py").write_text(train_script.python_script(spec, dataset))
        write_data(folder, dataset)
        folders.append(str(folder))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, "-c", RUNNER, *folders], env=env, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.split("RESULT ", 1)[1])
    for name in names:
        rate = got[name]["learning_rate"]
        if isinstance(rate, float):
            got[name]["learning_rate"] = pytest.approx(want[name]["learning_rate"], rel=1e-6)
        assert got[name] == want[name], name
    assert "Predicted classes:" in done.stdout
