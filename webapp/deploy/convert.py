"""A Keras model written out as a SavedModel, a LiteRT flatbuffer or an ONNX file, by Keras's own `model.export`.

No converter of ours: `model.export(path, format=...)` drives TensorFlow's SavedModel writer,
the TFLite converter (LiteRT) and tf2onnx. A LiteRT quantization is the TFLite converter's own
settings, handed through `model.export`'s keyword arguments (keras/src/export/litert.py sets each
one on the converter): `optimizations`, `target_spec.supported_types`, `representative_dataset`.
Runs in an export's own process (builder.py), never in the web process.
"""

import contextlib
import io

import numpy as np

from .formats import MODEL_FILE


def converter_kwargs(quantization, calibration=None):
    """Give the TFLite converter settings `model.export(format="litert", ...)` gets for a quantization.

    dynamic: weights stored as int8, activations float (post-training dynamic range).
    float16: weights stored as float16. int8: weights and activations int8, the activations'
    ranges calibrated on `calibration` (training images scaled as the model saw them); the
    input and output stay float32, so a caller feeds the same pixels as to every other export.
    """
    import tensorflow as tf

    if quantization == "none":
        return {}
    kwargs = {"optimizations": [tf.lite.Optimize.DEFAULT]}
    if quantization == "float16":
        kwargs["target_spec"] = {"supported_types": [tf.float16]}
    elif quantization == "int8":
        samples = np.asarray(calibration, dtype=np.float32)

        def representative_dataset():
            for i in range(len(samples)):
                yield [samples[i:i + 1]]

        kwargs["representative_dataset"] = representative_dataset
    return kwargs


def export(model, folder, fmt, quantization="none", calibration=None):
    """Write `model` as `fmt` into `folder` (its MODEL_FILE there); give the path written.

    What the converters print goes to a buffer: it is noise in a worker's log, and their
    errors arrive as exceptions, which the builder turns into the export's reason.
    """
    path = folder / MODEL_FILE[fmt]
    kwargs = converter_kwargs(quantization, calibration) if fmt == "litert" else {}
    with contextlib.redirect_stdout(io.StringIO()):
        model.export(str(path), format=fmt, verbose=False, **kwargs)
    return path


def size_bytes(path):
    """Give the bytes an export takes on disk (a SavedModel's folder summed)."""
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def load_model(path):
    """Give the Keras model saved at `path` (a run's model.keras), without its optimizer, called once.

    Keras's ONNX export refuses a model that was never called ("The model provided has never
    called"), which a freshly loaded one is; one call on zeros of its input shapes makes it ready.
    """
    from ..modelspec.build import init_keras

    model = init_keras().saving.load_model(path, compile=False)
    zeros = [np.zeros((1, *tensor.shape[1:]), dtype="float32") for tensor in model.inputs]
    model(zeros[0] if len(zeros) == 1 else zeros, training=False)
    return model
