"""How long `POST /api/models/check` takes for the classic Keras MNIST convnet, beside plain Keras.

Prints medians and p95 over many calls:
- the HTTP endpoint (Flask test client, validation + shape trace + loss checks), on the built-in digits;
- the same check on MNIST's shape (28, 28, 1), called in-process;
- plain Keras: keras.Sequential([...]) on (28, 28, 1) plus count_params(), what a user would run.

Usage: .venv/bin/python bench/check_latency.py [--repeat 200]
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conftest import signed_in  # noqa: E402
from tests.specs import CNN  # noqa: E402
from webapp import create_app  # noqa: E402
from webapp.spec import build  # noqa: E402
from webapp.spec.validate import validate  # noqa: E402


def timed(fn, repeat):
    """Give the sorted durations (ms) of `repeat` calls of fn, after 5 warm-up calls."""
    for _ in range(5):
        fn()
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return sorted(out)


def line(label, ms):
    """Give one result line: median and p95 in milliseconds."""
    return f"{label:<58} median {statistics.median(ms):7.2f} ms   p95 {ms[int(len(ms) * 0.95) - 1]:7.2f} ms"


def plain_keras():
    """Build the MNIST convnet with plain Keras and count its parameters, as a user would."""
    keras = build.init_keras()
    layers = keras.layers
    model = keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Dropout(0.25),
        layers.Flatten(),
        layers.Dense(128, activation="relu"),
        layers.Dropout(0.5),
        layers.Dense(10, activation="softmax"),
    ])
    return model.count_params()


def main():
    """Run the three measurements and print them side by side."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"KD_DATA_DIR": tmp, "KD_WARM_SPARE": "0"})
        client = signed_in(app, "bench", "member")

        def http_check():
            r = client.post("/api/models/check", json=CNN)
            assert r.status_code == 200, r.get_json()

        spec = validate(CNN)
        mnist = {"input_shape": [28, 28, 1], "num_classes": 10}
        results = [
            line("POST /api/models/check, MNIST convnet on digits (8x8x1)", timed(http_check, args.repeat)),
            line("check in-process, MNIST convnet on MNIST's (28, 28, 1)",
                 timed(lambda: build.summarize(spec, mnist), args.repeat)),
            line("plain Keras: Sequential(...) + count_params(), (28, 28, 1)", timed(plain_keras, args.repeat)),
        ]
    print(f"model check latency, {args.repeat} calls each (after 5 warm-up calls)")
    print("\n".join(results))


if __name__ == "__main__":
    main()
