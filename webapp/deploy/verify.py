"""An export loaded back in its own runtime and measured on the test split: agreement with Keras, accuracy, latency at batch 1.

The runtimes are the ones a user deploys with: `tf.saved_model.load` for a SavedModel, the LiteRT
interpreter (`ai_edge_litert.interpreter`) for a .tflite, onnxruntime for an .onnx. Keras's own
latency is measured the same way on the same images (`model(x, training=False)`, one image a
call), so the two figures stand side by side. Runs in an export's own process.
"""

import statistics
import time

import numpy as np

CHUNK = 256   # images per call when scoring the test split


def runtime(fmt, path):
    """Give `predict(x) -> outputs` of the export at `path`, loaded in its own runtime."""
    return {"tf_saved_model": _saved_model, "litert": _litert, "onnx": _onnx}[fmt](str(path))


def _saved_model(path):
    """Give predict of a SavedModel, loaded with tf.saved_model.load (its `serve` endpoint, as Keras writes it)."""
    import tensorflow as tf

    loaded = tf.saved_model.load(path)   # kept by the closure: its variables die with it
    return lambda x: np.asarray(loaded.serve(tf.constant(x, dtype=tf.float32)))


def _litert(path):
    """Give predict of a .tflite in the LiteRT interpreter; the input resized to each batch's size."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=path)
    interpreter.allocate_tensors()
    given, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    shape = [None]

    def predict(x):
        if shape[0] != x.shape:
            interpreter.resize_tensor_input(given["index"], x.shape, strict=False)
            interpreter.allocate_tensors()
            shape[0] = x.shape
        interpreter.set_tensor(given["index"], _quantized(x, given))
        interpreter.invoke()
        return _dequantized(interpreter.get_tensor(out["index"]), out)

    return predict


def _quantized(x, detail):
    """Give x as the interpreter's input type (an integer input scaled by its quantization)."""
    if detail["dtype"] == np.float32:
        return x.astype(np.float32)
    scale, zero = detail["quantization"]
    info = np.iinfo(detail["dtype"])
    return np.clip(np.round(x / scale + zero), info.min, info.max).astype(detail["dtype"])


def _dequantized(y, detail):
    """Give an output as float32 (an integer output scaled back)."""
    if detail["dtype"] == np.float32:
        return y
    scale, zero = detail["quantization"]
    return (y.astype(np.float32) - zero) * scale


def _onnx(path):
    """Give predict of an .onnx in onnxruntime on the CPU."""
    import onnxruntime

    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda x: session.run(None, {name: x.astype(np.float32)})[0]


def classes(predict, x):
    """Give the predicted class of every image in x, CHUNK at a time (one sigmoid unit: p > 0.5)."""
    found = []
    for start in range(0, len(x), CHUNK):
        out = np.asarray(predict(x[start:start + CHUNK])).reshape(min(CHUNK, len(x) - start), -1)
        found.append((out[:, 0] > 0.5).astype(np.int64) if out.shape[1] == 1 else out.argmax(axis=1))
    return np.concatenate(found) if found else np.zeros(0, np.int64)


def latency_ms(predict, x):
    """Give the median milliseconds of one call on one image, over the images of x (after one warm-up call)."""
    if not len(x):
        return None
    predict(x[:1])
    times = []
    for i in range(len(x)):
        start = time.perf_counter()
        predict(x[i:i + 1])
        times.append(time.perf_counter() - start)
    return round(statistics.median(times) * 1000, 4)


def keras_call(model):
    """Give predict of a Keras model as `model(x, training=False)` (the eager call a notebook makes)."""
    return lambda x: np.asarray(model(x, training=False))


def measure(predict, x_test, y_test, keras_classes, keras_predict, sample=100):
    """Give {agreement, accuracy, latency_ms, keras_latency_ms} of an export over the test split.

    agreement: the share of test images on which the export predicts the Keras model's class.
    """
    found = classes(predict, x_test)
    n = max(len(found), 1)
    timed = x_test[np.linspace(0, len(x_test) - 1, min(sample, len(x_test))).astype(int)] if len(x_test) else x_test
    return {"agreement": round(float((found == keras_classes).sum() / n), 6),
            "accuracy": round(float((found == np.asarray(y_test).reshape(-1)).sum() / n), 6),
            "latency_ms": latency_ms(predict, timed), "keras_latency_ms": latency_ms(keras_predict, timed)}
