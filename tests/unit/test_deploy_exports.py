"""Exports of the digits CNN in every format and quantization, each loaded back in its runtime by this test.

One model is trained once for the module (Conv2D 32 + Dense 64: weights dominate its size, so
quantization shows); each export is written by `deploy.convert` (Keras's `model.export`), then the
test opens it with the runtime a user deploys with — not through `deploy.verify` — and compares
the classes it predicts with the Keras model's on the whole test split. `verify.measure` is
checked against those same figures.
"""

import json
import zipfile

import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from webapp.deploy import builder, convert, formats, records, verify
from webapp.deploy.exports import Exports
from webapp.modelspec.build import init_keras
from webapp.runs import paths

pytestmark = pytest.mark.keras
# (format, quantization, the least agreement with Keras's classes the issue asks on the test split)
MATRIX = [("tf_saved_model", "none", 0.99), ("onnx", "none", 0.99), ("litert", "none", 0.99),
          ("litert", "float16", 0.99), ("litert", "dynamic", 0.97), ("litert", "int8", 0.97)]


def train_digits_cnn(epochs=3):
    """Give (model, x_train, x_test, y_test) of the digits CNN trained here (pixels / 16, as the trainer scales).

    bench/exports.py measures the same model.
    """
    keras = init_keras()
    bunch = load_digits()
    x = bunch.images[..., None].astype("float32") / 16.0
    x_train, x_test, y_train, y_test = train_test_split(x, bunch.target, test_size=0.2, random_state=0,
                                                        stratify=bunch.target)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(32, 3, activation="relu"),
                              keras.layers.Flatten(), keras.layers.Dense(64, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x_train, y_train, epochs=epochs, batch_size=32, verbose=0)
    return model, x_train, x_test, y_test


@pytest.fixture(scope="module")
def digits_cnn():
    """Give (model, x_train, x_test, y_test, the model's classes on x_test)."""
    model, x_train, x_test, y_test = train_digits_cnn()
    return model, x_train, x_test, y_test, model.predict(x_test, verbose=0).argmax(axis=1)


@pytest.fixture(scope="module")
def exported(digits_cnn, tmp_path_factory):
    """Give {(format, quantization): the path `convert.export` wrote}, every pair of MATRIX."""
    model, x_train = digits_cnn[:2]
    found = {}
    for fmt, quantization, _ in MATRIX:
        folder = tmp_path_factory.mktemp(f"{fmt}-{quantization}")
        found[fmt, quantization] = convert.export(model, folder, fmt, quantization, x_train[:200])
    return found


def run_in_its_runtime(fmt, path, x):
    """Give the outputs of the export at `path` for x, in the runtime a user deploys it with (this test's own code)."""
    if fmt == "tf_saved_model":
        import tensorflow as tf

        loaded = tf.saved_model.load(str(path))
        return loaded.serve(tf.constant(x)).numpy()
    if fmt == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return session.run(None, {session.get_inputs()[0].name: x})[0]
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    given = interpreter.get_input_details()[0]
    interpreter.resize_tensor_input(given["index"], x.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(given["index"], x)   # int8 keeps float32 in and out: the same pixels as every format
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


@pytest.mark.parametrize("fmt, quantization, least", MATRIX)
def test_each_export_predicts_the_keras_models_classes_in_its_own_runtime(digits_cnn, exported, fmt, quantization, least):
    model, _, x_test, y_test, keras_classes = digits_cnn
    path = exported[fmt, quantization]
    classes = run_in_its_runtime(fmt, path, x_test).argmax(axis=1)
    agreement = float((classes == keras_classes).mean())
    assert agreement >= least, f"{fmt}/{quantization} agrees on {agreement:.3f} of the test split"
    figures = verify.measure(verify.runtime(fmt, path), x_test, y_test, keras_classes, verify.keras_call(model), 5)
    assert figures["agreement"] == pytest.approx(agreement, abs=1e-6)
    assert figures["accuracy"] == pytest.approx(float((classes == y_test).mean()), abs=1e-6)
    assert figures["latency_ms"] > 0 and figures["keras_latency_ms"] > 0


def test_int8_is_at_most_three_tenths_of_the_float_file(exported):
    float_size = convert.size_bytes(exported["litert", "none"])
    assert convert.size_bytes(exported["litert", "int8"]) <= 0.3 * float_size
    assert convert.size_bytes(exported["litert", "dynamic"]) <= 0.3 * float_size
    assert convert.size_bytes(exported["litert", "float16"]) <= 0.6 * float_size


def test_a_saved_model_is_a_folder_the_others_one_file(exported):
    assert (exported["tf_saved_model", "none"] / "saved_model.pb").is_file()
    assert exported["onnx", "none"].suffix == ".onnx" and exported["litert", "int8"].suffix == ".tflite"


def test_a_model_that_cannot_be_read_fails_with_a_reason_and_leaves_no_file(tmp_path):
    run_dir = paths.run_dir(tmp_path, 7, create=True)
    (run_dir / paths.MODEL).write_bytes(b"not a keras zip")
    records.new(tmp_path, 7, "litert", "int8")
    record = builder.build({"KD_DATA_DIR": str(tmp_path), "KD_DATABASE_URL": f"sqlite:///{tmp_path / 'db'}"}, 7, 1,
                           {"format": "litert", "quantization": "int8", "dataset": "digits"})
    assert record["state"] == "failed" and record["error"]
    assert json.loads((run_dir / "exports" / "1.json").read_text())["state"] == "failed"
    assert sorted(p.name for p in (run_dir / "exports").iterdir()) == ["1.json"]


def test_the_download_holds_the_model_labels_and_a_readme(digits_cnn, tmp_path):
    model = digits_cnn[0]
    run_dir = paths.run_dir(tmp_path, 3, create=True)
    model.save(run_dir / paths.MODEL)   # loaded back by the builder: a model never called, as Keras's ONNX export refuses
    records.new(tmp_path, 3, "onnx", "none")
    record = builder.build({"KD_DATA_DIR": str(tmp_path), "KD_DATABASE_URL": f"sqlite:///{tmp_path / 'db'}"}, 3, 1,
                           {"format": "onnx", "quantization": "none", "dataset": "digits"})
    assert record["state"] == "ready", record["error"]
    assert record["agreement"] == 1.0 and record["size_bytes"] > 0
    with zipfile.ZipFile(records.download_path(tmp_path, 3, 1)) as archive:
        assert sorted(archive.namelist()) == sorted([formats.LABELS, formats.README, "model.onnx"])
        assert archive.read(formats.LABELS).decode().split() == [str(k) for k in range(10)]
    assert sorted(p.name for p in (run_dir / "exports").iterdir()) == ["1.json", "1.zip"]


@pytest.mark.parametrize("body, status, field", [
    ({"format": "tflite"}, 422, "format"), ({"format": "onnx", "quantization": "int8"}, 422, "quantization"),
    ({"format": "litert", "quantization": "int4"}, 422, "quantization"), ({"format": "litert", "opset": 3}, 422, "opset"),
    (["litert"], 400, "body")])
def test_a_request_it_cannot_take_names_the_field(body, status, field):
    with pytest.raises(formats.ExportError) as caught:
        formats.check(body)
    assert (caught.value.status, caught.value.field) == (status, field)
    assert field in caught.value.message or status == 400


def test_an_export_a_previous_server_left_building_fails_at_start_up(tmp_path):
    run_dir = paths.run_dir(tmp_path, 5, create=True)
    (run_dir / paths.MODEL).write_bytes(b"model")
    records.new(tmp_path, 5, "litert", "none")
    (run_dir / "exports" / ".1.partial.zip").write_bytes(b"half")
    sent = []
    exports = Exports({"KD_DATA_DIR": str(tmp_path), "KD_DATABASE_URL": "sqlite://", "KD_EXECUTOR": "local",
                       "KD_MAX_EXPORT_S": 60, "KD_MAX_EXPORTS_BUILDING": 2}, notify=sent.append)
    exports.start_up()
    assert exports.list(5)[0]["state"] == "failed" and exports.list(5)[0]["error"] == records.RESTARTED
    assert sent == [("run_export", {"run_id": 5, "export": exports.list(5)[0]})]
    assert sorted(p.name for p in (run_dir / "exports").iterdir()) == ["1.json"]


def test_an_op_litert_lacks_fails_the_export_with_the_runtimes_reason_and_no_file(tmp_path):
    # Bicubic resizing has no LiteRT kernel: the converter keeps TensorFlow's op (a Flex op), which
    # the LiteRT interpreter cannot run; the export fails saying so, and leaves no file.
    keras = init_keras()
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Resizing(12, 12, interpolation="bicubic"),
                              keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")])
    run_dir = paths.run_dir(tmp_path, 4, create=True)
    model.save(run_dir / paths.MODEL)
    records.new(tmp_path, 4, "litert", "none")
    record = builder.build({"KD_DATA_DIR": str(tmp_path), "KD_DATABASE_URL": f"sqlite:///{tmp_path / 'db'}"}, 4, 1,
                           {"format": "litert", "quantization": "none", "dataset": "digits"})
    assert record["state"] == "failed"
    assert "runtime could not run it" in record["error"] and "FlexResizeBicubic" in record["error"]
    assert sorted(p.name for p in (run_dir / "exports").iterdir()) == ["1.json"]


def test_a_layer_litert_cannot_run_is_refused_up_front_naming_it():
    spec = {"model": {"layers": [{"type": "Resizing", "height": 12, "width": 12, "interpolation": "bilinear"},
                                 {"type": "Resizing", "height": 8, "width": 8, "interpolation": "bicubic"},
                                 {"type": "Flatten"}]}}
    with pytest.raises(formats.ExportError) as caught:
        formats.check_model(spec, "litert")
    assert (caught.value.status, caught.value.layer) == (422, 1) and "'bicubic'" in caught.value.message
    formats.check_model(spec, "onnx")   # ONNX and SavedModel run it
