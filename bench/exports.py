"""Exports beside plain Keras: per format and quantization, size, agreement, accuracy and latency per image at batch 1.

One invocation trains the digits CNN of tests/unit/test_deploy_exports.py (Conv2D 32 + Dense 64 on the
scikit-learn 8×8 digits, 3 epochs) in this process, writes every export with the dashboard's own
code (webapp/deploy/convert.py: Keras's `model.export`), loads each in its own runtime
(webapp/deploy/verify.py: tf.saved_model.load, the LiteRT interpreter, onnxruntime) and prints:
its size, its agreement with the Keras model's classes and its accuracy on the 360 test images, and
the median time of one call on one image over the same --sample test images for the export and, beside
it, for Keras: `model.predict(x, verbose=0)` and `model(x, training=False)`. Every latency is measured
the same way in this one process (one warm-up call, then perf_counter around each call).

Usage: .venv/bin/python bench/exports.py [--sample 100] [--epochs 3]
"""

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from tests.unit.test_deploy_exports import train_digits_cnn  # noqa: E402  (the tests' model: one definition)
from webapp.deploy import convert, verify  # noqa: E402

PAIRS = [("tf_saved_model", "none"), ("onnx", "none"), ("litert", "none"), ("litert", "dynamic"),
         ("litert", "float16"), ("litert", "int8")]


def main():
    """Print one line per export with Keras's own figures beside it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=100, help="test images timed, one call each")
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    model, x_train, x_test, y_test = train_digits_cnn(args.epochs)
    keras_classes = model.predict(x_test, verbose=0).argmax(axis=1)
    timed = x_test[np.linspace(0, len(x_test) - 1, min(args.sample, len(x_test))).astype(int)]
    keras_call = verify.latency_ms(verify.keras_call(model), timed)
    keras_predict = verify.latency_ms(lambda x: model.predict(x, verbose=0), timed)
    print(f"Keras model: accuracy {(keras_classes == y_test).mean():.4f}; one image: model(x) {keras_call:.3f} ms, "
          f"model.predict(x) {keras_predict:.3f} ms (median of {len(timed)})")
    print(f"{'format':<15}{'quantization':<13}{'size':>11}{'agreement':>11}{'accuracy':>10}"
          f"{'ms/image':>10}{'vs model(x)':>13}{'vs predict':>12}")
    with tempfile.TemporaryDirectory() as tmp:
        sizes = {}
        for fmt, quantization in PAIRS:
            folder = Path(tmp) / f"{fmt}-{quantization}"
            folder.mkdir()
            path = convert.export(model, folder, fmt, quantization, x_train[:200])
            predict = verify.runtime(fmt, path)
            found = verify.classes(predict, x_test)
            latency = verify.latency_ms(predict, timed)
            sizes[fmt, quantization] = convert.size_bytes(path)
            print(f"{fmt:<15}{quantization:<13}{sizes[fmt, quantization]:>11,}{(found == keras_classes).mean():>11.4f}"
                  f"{(found == y_test).mean():>10.4f}{latency:>10.4f}{keras_call / latency:>12.1f}×{keras_predict / latency:>11.1f}×")
    print(f"int8 / float LiteRT size: {sizes['litert', 'int8'] / sizes['litert', 'none']:.3f} (goal ≤ 0.3)")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
